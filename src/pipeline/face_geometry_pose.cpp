// Yaw, pitch and roll from 2-D FaceMesh landmarks: a scaled-orthographic camera fitted to
// the 3-D reference face of face_geometry_model.cpp.
#include <algorithm>
#include <cmath>

#include "pipeline/face_geometry.hpp"

namespace idphoto::pipeline {

namespace {

/* Solves the symmetric 3x3 system A x = b by Cramer's rule; false if A is singular. */
bool solve3(const double A[3][3], const double b[3], double x[3]) {
  const double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                     A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                     A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
  if (std::fabs(det) < 1e-12) return false;
  for (int c = 0; c < 3; ++c) {
    double M[3][3];
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) M[r][k] = (k == c) ? b[r] : A[r][k];
    x[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
            M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) /
           det;
  }
  return true;
}

}  // namespace

/* Pose by an affine camera fit.
 *
 * Under scaled orthographic projection, image point x_i = s * P * R * X_i + t, where X_i
 * is the reference face's 3-D point, P drops z. With both point sets centred, the 2x3
 * matrix M = s * (first two rows of R) is the linear least-squares solution of
 * x_i = M X_i: M = (sum x_i X_i^T)(sum X_i X_i^T)^-1 — two 3x3 solves, no iteration,
 * no start value. M is then projected onto the nearest scaled rotation: its two rows are
 * made orthonormal symmetrically (the polar factor of the 2x2 Gram matrix), the third row
 * of R is their cross product, and the angles are read from R = Rroll * Rpitch * Ryaw:
 *   yaw   (about the vertical axis; > 0 = nose towards the image's right),
 *   pitch (about the horizontal axis; > 0 = chin up),
 *   roll  (about the camera axis; > 0 = clockwise in the image).
 * Trade-off: orthographic projection ignores perspective (a face at arm's length is
 * ~3 % deeper than its distance); a perspective-n-point solve would need the camera's
 * focal length, which photos do not reliably carry. The reference face is an average
 * one; individual faces differ, which biases pitch most (the nose's depth). Both errors
 * are measured by the synthetic check in tests (docs/specs.md gives the numbers). */
base::result<head_pose> estimate_pose(const face::mesh& m) {
  auto fp = measure_face(m);  // same input validation as the rest of the geometry
  IDPHOTO_TRY(fp);
  const auto ref = pose_reference_points();
  const size_t n = ref.size();
  double cx = 0, cy = 0, cX = 0, cY = 0, cZ = 0;
  for (const auto& p : ref) {
    cx += m.pts[static_cast<size_t>(p.index)].x;
    cy += m.pts[static_cast<size_t>(p.index)].y;
    cX += p.x;
    cY += p.y;
    cZ += p.z;
  }
  const double dn = static_cast<double>(n);
  cx /= dn, cy /= dn, cX /= dn, cY /= dn, cZ /= dn;
  double A[3][3] = {}, bx[3] = {}, by[3] = {};
  for (const auto& p : ref) {
    const double X[3] = {p.x - cX, p.y - cY, p.z - cZ};
    const double u = m.pts[static_cast<size_t>(p.index)].x - cx, v = m.pts[static_cast<size_t>(p.index)].y - cy;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) A[r][c] += X[r] * X[c];
      bx[r] += u * X[r];
      by[r] += v * X[r];
    }
  }
  double m1[3], m2[3];
  if (!solve3(A, bx, m1) || !solve3(A, by, m2))
    return base::make_error(base::errc::internal, "pose: the reference face is degenerate");
  // Nearest pair of orthonormal rows: [r1; r2] = G^(-1/2) [m1; m2], G = the rows' Gram matrix.
  const double g11 = m1[0] * m1[0] + m1[1] * m1[1] + m1[2] * m1[2];
  const double g22 = m2[0] * m2[0] + m2[1] * m2[1] + m2[2] * m2[2];
  const double g12 = m1[0] * m2[0] + m1[1] * m2[1] + m1[2] * m2[2];
  // Eigen-decomposition of the symmetric 2x2 G.
  const double tr = g11 + g22, det = g11 * g22 - g12 * g12;
  const double disc = std::sqrt(std::max(0.0, tr * tr / 4 - det));
  const double l1 = tr / 2 + disc, l2 = tr / 2 - disc;
  if (!(l2 > 1e-12)) return base::make_error(base::errc::invalid_argument, "pose: the landmarks are collinear");
  double e1[2];
  if (std::fabs(g12) > 1e-15) e1[0] = l1 - g22, e1[1] = g12;
  else e1[0] = g11 >= g22 ? 1 : 0, e1[1] = g11 >= g22 ? 0 : 1;
  const double en = std::hypot(e1[0], e1[1]);
  e1[0] /= en, e1[1] /= en;
  const double e2[2] = {-e1[1], e1[0]};
  // G^(-1/2) = sum_k e_k e_k^T / sqrt(l_k)
  const double a1 = 1 / std::sqrt(l1), a2 = 1 / std::sqrt(l2);
  const double h11 = a1 * e1[0] * e1[0] + a2 * e2[0] * e2[0];
  const double h12 = a1 * e1[0] * e1[1] + a2 * e2[0] * e2[1];
  const double h22 = a1 * e1[1] * e1[1] + a2 * e2[1] * e2[1];
  double r1[3], r2[3], r3[3];
  for (int k = 0; k < 3; ++k) {
    r1[k] = h11 * m1[k] + h12 * m2[k];
    r2[k] = h12 * m1[k] + h22 * m2[k];
  }
  r3[0] = r1[1] * r2[2] - r1[2] * r2[1];
  r3[1] = r1[2] * r2[0] - r1[0] * r2[2];
  r3[2] = r1[0] * r2[1] - r1[1] * r2[0];
  const double scale = (std::sqrt(l1) + std::sqrt(l2)) / 2;

  head_pose hp;
  hp.pitch_deg = std::asin(std::clamp(-r3[1], -1.0, 1.0)) * 180 / M_PI;
  hp.yaw_deg = std::atan2(r3[0], r3[2]) * 180 / M_PI;
  hp.roll_deg = std::atan2(-r1[1], r2[1]) * 180 / M_PI;
  double ss = 0;
  for (const auto& p : ref) {
    const double X[3] = {p.x - cX, p.y - cY, p.z - cZ};
    const double u = cx + scale * (r1[0] * X[0] + r1[1] * X[1] + r1[2] * X[2]);
    const double v = cy + scale * (r2[0] * X[0] + r2[1] * X[1] + r2[2] * X[2]);
    ss +=
        std::pow(u - m.pts[static_cast<size_t>(p.index)].x, 2) + std::pow(v - m.pts[static_cast<size_t>(p.index)].y, 2);
  }
  hp.rms_px = std::sqrt(ss / static_cast<double>(n));
  return hp;
}

}  // namespace idphoto::pipeline
