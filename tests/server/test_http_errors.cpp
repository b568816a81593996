// The error table: client faults 4xx, ours 5xx, overload 503 with Retry-After, and the
// public messages never repeat a detail.
#include <gtest/gtest.h>

#include "server/http_errors.hpp"

using namespace idphoto;
using base::errc;
using server::http_error_for;

TEST(http_errors, status_per_code) {
  EXPECT_EQ(http_error_for(errc::invalid_argument).status, 400);
  EXPECT_EQ(http_error_for(errc::invalid_argument, app::stage::clean).status, 422);
  EXPECT_EQ(http_error_for(errc::unsupported, app::stage::image).status, 415);
  EXPECT_EQ(http_error_for(errc::too_large, app::stage::image).status, 413);
  EXPECT_EQ(http_error_for(errc::corrupt, app::stage::image).status, 422);
  EXPECT_EQ(http_error_for(errc::corrupt, app::stage::clean).status, 422);
  EXPECT_EQ(http_error_for(errc::not_found, app::stage::database).status, 404);
  EXPECT_EQ(http_error_for(errc::conflict, app::stage::database).status, 409);
  EXPECT_EQ(http_error_for(errc::internal, app::stage::clean).status, 500);
  EXPECT_EQ(http_error_for(errc::io, app::stage::store).status, 500);
  EXPECT_EQ(http_error_for(errc::forbidden, app::stage::fetch).status, 403);
  EXPECT_EQ(http_error_for(errc::invalid_argument, app::stage::fetch).status, 400);
  EXPECT_EQ(http_error_for(errc::unavailable, app::stage::fetch).status, 502) << "the client's URL, not our outage";
  EXPECT_EQ(http_error_for(errc::timeout, app::stage::fetch).status, 504);
  EXPECT_EQ(http_error_for(errc::unsupported, app::stage::fetch).status, 415);
  EXPECT_EQ(server::http_auth_error().status, 401);
}

TEST(http_errors, overload_is_503_with_retry_after) {
  for (auto where : {app::stage::queue, app::stage::database, app::stage::store}) {
    const auto e = http_error_for(errc::unavailable, where);
    EXPECT_EQ(e.status, 503);
    EXPECT_TRUE(e.retry_after);
  }
  EXPECT_EQ(http_error_for(errc::unavailable, app::stage::queue).code, "queue_full");
  EXPECT_TRUE(http_error_for(errc::timeout, app::stage::clean).retry_after);
  EXPECT_FALSE(http_error_for(errc::corrupt, app::stage::clean).retry_after);
}

TEST(http_errors, every_code_has_a_class_and_a_message) {
  const errc all[] = {errc::invalid_argument, errc::unsupported, errc::not_found, errc::io,
                      errc::corrupt,          errc::too_large,   errc::internal,  errc::forbidden,
                      errc::timeout,          errc::unavailable, errc::conflict};
  const app::stage stages[] = {app::stage::request, app::stage::queue, app::stage::fetch,   app::stage::image,
                               app::stage::clean,   app::stage::store, app::stage::database};
  for (auto c : all)
    for (auto s : stages) {
      const auto e = http_error_for(c, s);
      EXPECT_GE(e.status, 400);
      EXPECT_LT(e.status, 600);
      EXPECT_FALSE(e.code.empty());
      EXPECT_FALSE(e.message.empty());
      const bool ours = c == errc::internal || c == errc::io || c == errc::unavailable || c == errc::timeout;
      if (!ours && s != app::stage::fetch) {
        EXPECT_LT(e.status, 500) << base::errc_name(c) << " at " << app::stage_name(s) << " is the client's fault";
      }
      if (c == errc::internal) {
        EXPECT_EQ(e.status, 500);
      }
      if (s == app::stage::fetch && !ours) {
        EXPECT_TRUE(e.status < 500 || e.status == 502) << "a remote failure is a gateway error";
      }
    }
}

TEST(http_errors, httplib_statuses) {
  EXPECT_EQ(server::http_error_for_status(413).code, "too_large");
  EXPECT_EQ(server::http_error_for_status(404).status, 404);
  EXPECT_EQ(server::http_error_for_status(500).code, "internal");
}

TEST(http_errors, pdf_refusals_and_request_errors) {
  using server::pdf_refusal;
  for (auto why : {pdf_refusal::no_photo, pdf_refusal::no_framed_photo, pdf_refusal::spec_differs}) {
    EXPECT_EQ(http_error_for(why).status, 409);
    EXPECT_FALSE(http_error_for(why).message.empty());
  }
  EXPECT_EQ(http_error_for(pdf_refusal::no_photo).code, "no_photo");
  EXPECT_EQ(http_error_for(pdf_refusal::no_framed_photo).code, "no_framed_photo");
  EXPECT_EQ(http_error_for(pdf_refusal::spec_differs).code, "spec_differs");
  EXPECT_EQ(server::http_request_error("limit must be an integer in 1..100").code, "invalid_argument");
  EXPECT_EQ(server::http_request_error("send JSON", 415).code, "unsupported_media_type");
  EXPECT_EQ(server::http_request_error("send JSON", 415).message, "send JSON");
}

TEST(http_errors, access_refusals_are_403_with_their_own_codes) {
  using server::access_refusal;
  EXPECT_EQ(http_error_for(access_refusal::insufficient_scope).status, 403);
  EXPECT_EQ(http_error_for(access_refusal::insufficient_scope).code, "insufficient_scope");  // RFC 6750 §3.1
  EXPECT_EQ(http_error_for(access_refusal::other_organization).status, 403);
  EXPECT_EQ(http_error_for(access_refusal::other_organization).code, "other_organization");
  for (auto why : {access_refusal::insufficient_scope, access_refusal::other_organization}) {
    EXPECT_FALSE(http_error_for(why).message.empty());
    EXPECT_FALSE(http_error_for(why).retry_after);
  }
}
