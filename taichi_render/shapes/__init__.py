"""Shape plugins: meshes ``obj``, ``ply``, ``rectangle``, ``cube`` (base `mesh.Mesh`) and analytic
``sphere``, ``disk`` (host data; see each module)."""

from . import cube, disk, mesh, obj, ply, rectangle, sphere

__all__ = ["cube", "disk", "mesh", "obj", "ply", "rectangle", "sphere"]
