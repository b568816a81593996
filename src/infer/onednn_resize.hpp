// Bilinear Resize for the oneDNN executor: multi-threaded, on nChw16c or plain
// NCHW, with source taps computed exactly as the reference kernel computes them.
#pragma once
#include "infer/plan.hpp"

namespace idphoto::infer::onednn {

// p.mode must be linear; any coordinate transform. block is 16 for nChw16c
// data (p.c a multiple of 16) or 1 for plain NCHW. Never fails.
void resize_linear(const resize_params& p, int block, const float* x, float* y);

}  // namespace idphoto::infer::onednn
