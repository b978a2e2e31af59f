"""Column layout of the packed scene arrays (see scene_data.py) and plugin type codes.

Host plugins are packed into a handful of typed ndarrays: one row per object, one column per
attribute. Device code reads them through these names, never through bare numbers.
"""

# ---- primitives (BVH leaves) ----
PRIM_TRIANGLE = 0
PRIM_SPHERE = 1
PRIM_DISK = 2

# ---- shapes: shape_i (S, SI_WIDTH) int32, shape_f (S, SF_WIDTH) float32 ----
SI_TYPE = 0  # PRIM_*
SI_BSDF = 1
SI_EMITTER = 2  # -1: none
SI_TRI_OFFSET = 3
SI_TRI_COUNT = 4
SI_HAS_NORMALS = 5  # NORMALS_*: 0 none (face normals), else vertex normals
SI_HAS_UV = 6
SI_FLIP_NORMALS = 7
# diffuse leaves of the shape's BSDF (scene_data packs them from bsdf_i): front and back sides
# (the same row unless `twosided`), -1 when either is not `diffuse`; 1 for `twosided`
SI_DIFFUSE_FRONT = 8
SI_DIFFUSE_BACK = 9
SI_TWOSIDED = 10
SI_WIDTH = 11

NORMALS_NONE = 0
NORMALS_VERTEX = 1
NORMALS_FLAT = 2  # vertex normals that equal every triangle's face normal (rectangle, cube)

SF_CENTER = 0  # 3 floats (sphere)
SF_RADIUS = 3
SF_TO_WORLD = 4  # 12 floats, 3x4 row major (disk)
SF_TO_LOCAL = 16  # 12 floats
SF_AREA = 28
SF_WIDTH = 32

# ---- bsdfs: bsdf_i (B, BI_WIDTH) int32, bsdf_f (B, BF_WIDTH) float32 ----
BSDF_DIFFUSE = 0
BSDF_TWOSIDED = 1
BSDF_DIELECTRIC = 2
BSDF_THINDIELECTRIC = 3
BSDF_CONDUCTOR = 4
BSDF_ROUGHCONDUCTOR = 5
BSDF_PLASTIC = 6
BSDF_ROUGHPLASTIC = 7
BSDF_ROUGHDIELECTRIC = 8

BI_TYPE = 0
BI_TEX0 = 1  # diffuse.reflectance, *.specular_reflectance, (rough)plastic.diffuse_reflectance
BI_TEX1 = 2  # (rough)dielectric.specular_transmittance, (rough)plastic.specular_reflectance
BI_CHILD0 = 3  # twosided front
BI_CHILD1 = 4  # twosided back
BI_DISTRIBUTION = 5  # 0 beckmann, 1 ggx
BI_NONLINEAR = 6
BI_TABLE = 7  # roughplastic: offset of its coating transmittance table in the dist pool
BI_WIDTH = 8

BF_ETA = 0  # int_ior / ext_ior
BF_ALPHA_U = 1
BF_ALPHA_V = 2
BF_COND_ETA = 3  # 3 floats
BF_COND_K = 6  # 3 floats
BF_FDR_INT = 9  # plastic, roughplastic: internal diffuse Fresnel reflectance
BF_SPEC_WEIGHT = 10  # plastic, roughplastic: probability weight of the specular lobe
BF_PERFECT_MIRROR = 11
BF_WIDTH = 12

# ---- textures: tex_i (X, TI_WIDTH) int32, tex_f (X, TF_WIDTH) float32, tex_rgb (X) vec3 ----
TEX_RGB = 0
TEX_BITMAP = 1
TEX_CHECKERBOARD = 2

TI_TYPE = 0
TI_OFFSET = 1  # first texel in the texel pool
TI_WIDTH = 2
TI_HEIGHT = 3
TI_WRAP = 4  # WRAP_*
TI_FILTER = 5  # FILTER_*
TI_CHILD0 = 6  # checkerboard color0
TI_CHILD1 = 7  # checkerboard color1
TI_COLS = 8

WRAP_REPEAT = 0
WRAP_MIRROR = 1
WRAP_CLAMP = 2
FILTER_NEAREST = 0
FILTER_BILINEAR = 1

TF_TO_UV = 0  # 6 floats: 2x3 affine, row major
TF_WIDTH = 8

# ---- emitters: em_i (E, EI_WIDTH) int32, em_f (E, EF_WIDTH) float32 ----
EMITTER_AREA = 0
EMITTER_POINT = 1
EMITTER_CONSTANT = 2
EMITTER_ENVMAP = 3

EI_TYPE = 0
EI_SHAPE = 1
EI_TEX = 2  # radiance / intensity / envmap data texture
EI_CDF_OFFSET = 3  # area: per-triangle CDF; envmap: conditional rows then marginal
EI_CDF_COUNT = 4  # area: triangles; envmap: width
EI_CDF_ROWS = 5  # envmap: height
EI_WIDTH = 8

EF_POSITION = 0  # 3 floats (point)
EF_SCALE = 3
EF_TO_WORLD = 4  # 9 floats, rotation part (envmap)
EF_TO_LOCAL = 13  # 9 floats
EF_AREA = 22  # area emitter: total surface area
EF_ENV_NORM = 23  # envmap: integral of the sampling density's unnormalised weights
EF_WIDTH = 24

# emitter derivative rows (the `emitter` derivative target, ED_WIDTH floats per emitter row): with
# respect to an area emitter's total area, and to a point light's position (3 floats)
ED_AREA = 0
ED_POSITION = 1
ED_WIDTH = 4

# ---- scene scalars: scene_i (SC_WIDTH + listed emitter primitives,) int32 ----
SC_NUM_EMITTERS = 0
SC_ENV_EMITTER = 1  # -1: none
SC_NUM_NODES = 2
SC_TRIANGLE_EMITTERS = 3  # 1: every emitter is an area emitter on a triangle mesh
# number of emitter primitives (indices into `prim`, listed after the SC_WIDTH header) when a
# ray can find emission only on them (no environment emitter) and they are at most
# MAX_LISTED_EMITTER_PRIMS; -1 otherwise (packet_final.py)
SC_EMITTER_PRIMS = 4
# adjoint launches: bit t set when texture row t has its gradients wanted (bit 31 stands for
# rows 31 and up); -1: every texture (derivatives.gradient_wanted, renderer.gradient_texture_mask)
SC_GRAD_TEXTURES = 5
SC_WIDTH = 6
MAX_LISTED_EMITTER_PRIMS = 16

# ---- camera: cam (rows * CAM_WIDTH,) float32, one row per camera (the sub-sensors of a batch
# sensor; camera.py); the kernels read the CAM_CROP fields of row 0 only ----
CAM_TO_WORLD = 0  # 12 floats, 3x4 row major
CAM_TAN_X = 12
CAM_TAN_Y = 13
CAM_NEAR = 14
CAM_FAR = 15
CAM_CROP = 16  # 4 floats: crop offset x, y and full film width, height (pixels); a batch: 0, 0,
# and one sub-image's width and height
CAM_WIDTH = 20

# ---- film reconstruction filters ----
RFILTER_BOX = 0
RFILTER_GAUSSIAN = 1
