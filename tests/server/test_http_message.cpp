// The server's own request and response values: headers without case, the query decoded.
#include "server/http_message.hpp"

#include <gtest/gtest.h>

using idphoto::server::http_request;
using idphoto::server::http_response;
using idphoto::server::parse_query;

TEST(http_message, headers_compare_without_case) {
  http_request req;
  req.headers.emplace("Content-Type", "multipart/form-data; boundary=x");
  req.headers.emplace("X-Twice", "1");
  req.headers.emplace("x-twice", "2");
  EXPECT_TRUE(req.has_header("content-type"));
  EXPECT_TRUE(req.is_multipart_form_data());
  EXPECT_EQ(req.headers.count("X-TWICE"), 2u);
  EXPECT_EQ(req.get_header_value("x-twice"), "1");
  EXPECT_EQ(req.get_header_value("missing"), "");
  EXPECT_FALSE(req.has_file("photo"));
  EXPECT_EQ(req.get_file_value("photo").content, "");
  http_response res;
  res.set_header("Allow", "GET");
  res.set_header("allow", "POST");
  EXPECT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.get_header_value("ALLOW"), "POST");
  res.set_content_provider(10, "image/png", [](uint64_t, char*, std::size_t) { return -1L; });
  res.set_content("x", "text/plain");
  EXPECT_FALSE(res.provider_size.has_value()) << "set_content replaces a provider";
  EXPECT_EQ(res.get_header_value("Content-Type"), "text/plain");
}

TEST(http_message, the_query_is_percent_decoded) {
  std::multimap<std::string, std::string> p;
  ASSERT_TRUE(parse_query("a=1&b=x+y%2Bz&&c&d=%C3%A9&a=2", &p));
  EXPECT_EQ(p.count("a"), 2u);
  EXPECT_EQ(p.find("a")->second, "1");
  EXPECT_EQ(p.find("b")->second, "x y+z");
  EXPECT_EQ(p.find("c")->second, "");
  EXPECT_EQ(p.find("d")->second, "\xC3\xA9");
  EXPECT_TRUE(parse_query("", &p));
  std::multimap<std::string, std::string> bad;
  EXPECT_FALSE(parse_query("a=%zz", &bad));
  EXPECT_FALSE(parse_query("a=%4", &bad));
  EXPECT_FALSE(parse_query("a=%0a", &bad)) << "no control character from a query";
  EXPECT_FALSE(parse_query("%00=1", &bad));
}
