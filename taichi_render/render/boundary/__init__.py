"""Boundary terms of vertex-position derivatives: silhouettes seen by the camera, shadow
boundaries and silhouettes after bounces, point-light shadows."""
