// The multipart/form-data parser: good forms, and empty, truncated, oversized and hostile input.
#include "server/multipart.hpp"

#include <gtest/gtest.h>

#include <string>

using idphoto::server::k_multipart_max_boundary;
using idphoto::server::k_multipart_max_part_headers;
using idphoto::server::k_multipart_max_parts;
using idphoto::server::multipart_boundary;
using idphoto::server::parse_multipart;

namespace {

const std::string k_type = "multipart/form-data; boundary=XyZ";

std::string part(const std::string& name, const std::string& content, const std::string& extra = "") {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"" + extra + "\r\n\r\n" + content + "\r\n";
}

}  // namespace

TEST(multipart, parses_fields_files_and_binary_content) {
  const std::string bin("\x00\r\n--X\xff", 8);
  const std::string body = "preamble\r\n" + part("bg", "white") +
                           "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a; b.png\"\r\n"
                           "Content-Type: image/png\r\n\r\n" +
                           bin + "\r\n--XyZ--\r\nepilogue";
  auto parts = parse_multipart(k_type, body);
  ASSERT_TRUE(parts.ok()) << parts.err().detail;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "bg");
  EXPECT_EQ((*parts)[0].content, "white");
  EXPECT_EQ((*parts)[1].name, "photo");
  EXPECT_EQ((*parts)[1].filename, "a; b.png");
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ((*parts)[1].content, bin);
}

TEST(multipart, the_boundary_comes_from_the_content_type) {
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data; boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(*multipart_boundary("multipart/form-data;charset=utf-8;boundary=q"), "q");
  EXPECT_FALSE(multipart_boundary("").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"\"").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"open").ok());
  EXPECT_FALSE(multipart_boundary("multipart/mixed; boundary=q").ok());
  EXPECT_FALSE(multipart_boundary("application/json; boundary=q").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=a\rb").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"ends \"").ok());
  EXPECT_TRUE(multipart_boundary("multipart/form-data; boundary=" + std::string(k_multipart_max_boundary, 'b')).ok());
  EXPECT_FALSE(
      multipart_boundary("multipart/form-data; boundary=" + std::string(k_multipart_max_boundary + 1, 'b')).ok());
}

TEST(multipart, empty_and_truncated_bodies_are_refused) {
  EXPECT_FALSE(parse_multipart(k_type, "").ok());
  EXPECT_FALSE(parse_multipart(k_type, "no delimiter at all").ok());
  const std::string good = part("a", "1") + "--XyZ--\r\n";
  ASSERT_TRUE(parse_multipart(k_type, good).ok());
  // Every cut short of the final delimiter is refused, never read past the end.
  for (size_t n = 0; n + 4 < good.size(); ++n)
    EXPECT_FALSE(parse_multipart(k_type, good.substr(0, n)).ok()) << "cut at " << n;
  EXPECT_FALSE(parse_multipart(k_type, part("a", "1")).ok()) << "no final delimiter";
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ").ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\n").ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\nContent-Disposition: form-data; name=a").ok());
  EXPECT_FALSE(parse_multipart("text/plain", good).ok()) << "not multipart";
  // No part at all (RFC 2046 needs one): the final delimiter alone, or a first delimiter that is
  // not the boundary (found by fuzz/multipart: the whole form read as preamble, zero parts).
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ--\r\n").ok());
  EXPECT_FALSE(
      parse_multipart(k_type, "--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n").ok());
}

TEST(multipart, malformed_parts_are_refused) {
  const std::string end = "--XyZ--\r\n";
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\n\r\nno headers\r\n" + end).ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n" + end).ok())
      << "no Content-Disposition";
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n" + end).ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n" + end).ok()) << "no name";
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n" + end).ok());
  EXPECT_FALSE(parse_multipart(k_type, part("a", "1", "\r\nContent-Disposition: form-data; name=b") + end).ok())
      << "Content-Disposition twice";
  EXPECT_FALSE(parse_multipart(k_type, part("a", "1", "\r\n folded") + end).ok());
  EXPECT_FALSE(parse_multipart(k_type, part("a", "1", "\r\nno colon") + end).ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZjunk\r\n" + part("a", "1") + end).ok());
  EXPECT_TRUE(parse_multipart(k_type, "--XyZ \t\r\n" + part("a", "1").substr(7) + end).ok()) << "transport padding";
}

TEST(multipart, limits_on_parts_and_header_bytes) {
  std::string many;
  for (size_t i = 0; i < k_multipart_max_parts; ++i) many += part("f" + std::to_string(i), "v");
  EXPECT_TRUE(parse_multipart(k_type, many + "--XyZ--").ok());
  EXPECT_FALSE(parse_multipart(k_type, many + part("one-more", "v") + "--XyZ--").ok());

  const std::string fits(k_multipart_max_part_headers - 60, 'h');
  EXPECT_TRUE(parse_multipart(k_type, part("a", "1", "\r\nX-Pad: " + fits) + "--XyZ--").ok());
  const std::string huge(4 * k_multipart_max_part_headers, 'h');
  auto r = parse_multipart(k_type, part("a", "1", "\r\nX-Pad: " + huge) + "--XyZ--");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("too long"), std::string::npos) << r.err().detail;
}

TEST(multipart, hostile_input_is_refused_or_parsed_without_reading_past_the_end) {
  // A boundary-like line inside content that is not the delimiter stays content.
  auto r = parse_multipart(k_type, part("a", "x\r\n--XyY\r\n--Xy") + "--XyZ--");
  ASSERT_TRUE(r.ok()) << r.err().detail;
  EXPECT_EQ((*r)[0].content, "x\r\n--XyY\r\n--Xy");
  // NUL bytes and a quote escape in the disposition.
  r = parse_multipart(k_type, "--XyZ\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\n" +
                                  std::string(3, '\0') + "\r\n--XyZ--");
  ASSERT_TRUE(r.ok()) << r.err().detail;
  EXPECT_EQ((*r)[0].name, "a\"b");
  EXPECT_EQ((*r)[0].content, std::string(3, '\0'));
  // Delimiters only, and runs of CRLF.
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ--").ok()) << "no part is not a form (RFC 2046)";
  EXPECT_FALSE(parse_multipart(k_type, std::string(10000, '\r')).ok());
  EXPECT_FALSE(parse_multipart(k_type, "--XyZ\r\n" + std::string(100000, '\n')).ok());
}
