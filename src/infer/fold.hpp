// Plan-time evaluation of shape and constant ops (Shape, Slice, Gather, Concat,
// Cast, Reshape, ...) on constant inputs of any dtype.
#pragma once
#include <string>
#include <vector>

#include "base/result.hpp"
#include "infer/model.hpp"

namespace idphoto::infer::detail {

bool is_shape_op(const std::string& op_type);

// inputs[i] is null where the node omits an optional input. For Shape, inputs[0]
// may be a shape-only tensor (bytes empty). Fails with unsupported/invalid_argument
// naming the node.
base::result<std::vector<tensor>> fold_node(const node& n, const std::vector<const tensor*>& inputs, int64_t opset);

// Output shape of Reshape / Squeeze / Unsqueeze / Flatten given the input shape and
// constant operands (shared by folding and runtime aliasing).
base::result<shape_t> reshape_like_shape(const node& n, const shape_t& in, const std::vector<const tensor*>& inputs,
                                         int64_t opset);

}  // namespace idphoto::infer::detail
