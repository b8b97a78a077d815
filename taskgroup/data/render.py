"""Vectorised numpy ray casting of a `Scene` into an RGB image and its dense labels.

Every label comes from the same ray hits, so they agree physically: normals are the true surface
normals of the depth map, occlusion edges are exactly the depth discontinuities between surfaces,
keypoints are the visible projected box corners, texture edges are the image gradients, and the
noise-free image is the albedo times the shading (ambient, plus direct light outside cast shadows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taskgroup.data.scenes import GROUND_HALF_SIZE, Primitive, Scene

SEGMENT_CLASSES: tuple[str, ...] = ("sky", "ground", "sphere", "box", "cylinder")
OCCLUSION_JUMP = 0.05  # relative depth jump between neighbouring surfaces that makes an occlusion edge
EDGE_FULL_SCALE = 0.25  # image-gradient magnitude (Sobel / 8, grey levels in [0,1]) that maps to edge 1
RGB_NOISE = 0.01
MAX_KEYPOINTS = 48  # 8 corners for each of at most 6 boxes
_EPS = 1e-4


@dataclass(frozen=True)
class Rendering:
    """One rendered image and its labels, in the layout stored on disk (channels first)."""

    rgb: np.ndarray  # uint8 [3,H,W]
    depth: np.ndarray  # float32 [1,H,W], metres along the camera axis, 0 where invalid
    valid: np.ndarray  # bool [1,H,W], False on sky
    normal: np.ndarray  # float32 [3,H,W], camera frame, 0 where invalid
    segment: np.ndarray  # uint8 [H,W], index into SEGMENT_CLASSES
    edge: np.ndarray  # float32 [1,H,W] in [0,1]
    occlusion: np.ndarray  # float32 [1,H,W] in {0,1}
    keypoint: np.ndarray  # float32 [1,H,W] in [0,1]
    reshade: np.ndarray  # float32 [1,H,W] in [0,1], 0 where invalid
    albedo: np.ndarray  # float32 [3,H,W] in [0,1], surface colour without light or shadow, 0 where invalid
    shadow: np.ndarray  # float32 [1,H,W] in {0,1}, 1 on surfaces turned to the light but in a cast shadow
    height: np.ndarray  # float32 [1,H,W], metres above the ground plane, 0 where invalid
    keypoints_xy: np.ndarray  # float32 [MAX_KEYPOINTS,2] (column, row) of visible corners, NaN padded


def _yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _safe(d: np.ndarray) -> np.ndarray:
    return np.where(np.abs(d) < 1e-12, 1e-12, d)


def _hit_sphere(o: np.ndarray, d: np.ndarray, p: Primitive) -> tuple[np.ndarray, np.ndarray]:
    r = p.size[0]
    c = np.array([p.center[0], r, p.center[1]])
    oc = o - c
    b = np.einsum("ij,ij->i", oc, d)
    disc = b * b - (np.einsum("ij,ij->i", oc, oc) - r * r)
    root = np.sqrt(np.maximum(disc, 0.0))
    t = -b - root
    t = np.where(t > _EPS, t, -b + root)
    t = np.where((disc > 0) & (t > _EPS), t, np.inf)
    normal = (o + np.nan_to_num(t, posinf=0.0)[:, None] * d - c) / r
    return t, normal


def _hit_box(o: np.ndarray, d: np.ndarray, p: Primitive) -> tuple[np.ndarray, np.ndarray]:
    half = np.array(p.size)
    c = np.array([p.center[0], half[1], p.center[1]])
    rot = _yaw_matrix(p.yaw)
    lo, ld = (o - c) @ rot, _safe(d @ rot)  # into the box frame (rows times rot = rot.T applied)
    t1, t2 = (-half - lo) / ld, (half - lo) / ld
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_near, t_far = near.max(axis=1), far.min(axis=1)
    inside = t_near <= _EPS
    t = np.where(inside, t_far, t_near)
    t = np.where((t_far >= t_near) & (t > _EPS), t, np.inf)
    axis = np.where(inside, far.argmin(axis=1), near.argmax(axis=1))
    local = np.zeros_like(o)
    rows = np.arange(len(o))
    sign = -np.sign(ld[rows, axis])
    local[rows, axis] = np.where(inside, -sign, sign)
    return t, local @ rot.T


def _hit_cylinder(o: np.ndarray, d: np.ndarray, p: Primitive) -> tuple[np.ndarray, np.ndarray]:
    r, h = p.size
    ox, oz = o[:, 0] - p.center[0], o[:, 2] - p.center[1]
    a = _safe(d[:, 0] ** 2 + d[:, 2] ** 2)
    b = ox * d[:, 0] + oz * d[:, 2]
    disc = b * b - a * (ox * ox + oz * oz - r * r)
    root = np.sqrt(np.maximum(disc, 0.0))
    t_side = (-b - root) / a
    t_side = np.where(t_side > _EPS, t_side, (-b + root) / a)
    y = o[:, 1] + t_side * d[:, 1]
    t_side = np.where((disc > 0) & (t_side > _EPS) & (y >= 0) & (y <= h), t_side, np.inf)
    t_cap = (h - o[:, 1]) / _safe(d[:, 1])
    cx, cz = ox + t_cap * d[:, 0], oz + t_cap * d[:, 2]
    t_cap = np.where((t_cap > _EPS) & (cx * cx + cz * cz <= r * r), t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    hit = o + np.nan_to_num(t, posinf=0.0)[:, None] * d
    side = np.stack([(hit[:, 0] - p.center[0]) / r, np.zeros(len(o)), (hit[:, 2] - p.center[1]) / r], axis=1)
    normal = np.where((t_cap < t_side)[:, None], np.array([0.0, 1.0, 0.0]), side)
    return t, normal


_HITTERS = {"sphere": _hit_sphere, "box": _hit_box, "cylinder": _hit_cylinder}


def _hit_ground(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    t = -o[:, 1] / _safe(d[:, 1])
    x, z = o[:, 0] + t * d[:, 0], o[:, 2] + t * d[:, 2]
    inside = (np.abs(x) <= GROUND_HALF_SIZE) & (np.abs(z) <= GROUND_HALF_SIZE)
    return np.where((d[:, 1] < 0) & (t > _EPS) & inside, t, np.inf)


def _checker(coords: np.ndarray, scale: float) -> np.ndarray:
    return (np.floor(coords / scale).astype(np.int64).sum(axis=1) % 2).astype(bool)


def _albedo(scene: Scene, ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per-pixel albedo from each surface's procedural texture (in the object's own frame)."""
    albedo = np.zeros_like(points)
    ground = ids == 0
    second = _checker(points[ground][:, [0, 2]], scene.ground_scale)
    albedo[ground] = scene.ground_colors[second.astype(int)]
    for k, prim in enumerate(scene.primitives):
        sel = ids == k + 1
        local = (points[sel] - np.array([prim.center[0], 0.0, prim.center[1]])) @ _yaw_matrix(prim.yaw)
        if prim.texture == "stripes":
            second = (np.floor(local[:, 1] / prim.texture_scale) % 2).astype(bool)
        elif prim.texture == "checker":
            second = _checker(local, prim.texture_scale)
        else:
            second = np.zeros(len(local), dtype=bool)
        albedo[sel] = prim.colors[second.astype(int)]
    return albedo


def _cast(scene: Scene, o: np.ndarray, d: np.ndarray, with_ground: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit per ray: distance (inf on a miss), surface id (-1 none, 0 ground, k+1 primitive k), normal."""
    best_t = _hit_ground(o, d) if with_ground else np.full(len(o), np.inf)
    ids = np.where(np.isfinite(best_t), 0, -1)
    normals = np.tile([0.0, 1.0, 0.0], (len(o), 1))
    for k, prim in enumerate(scene.primitives):
        t, n = _HITTERS[prim.kind](o, d, prim)
        closer = t < best_t
        best_t = np.where(closer, t, best_t)
        ids = np.where(closer, k + 1, ids)
        normals = np.where(closer[:, None], n, normals)
    return best_t, ids, normals


def _sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    g = np.pad(gray, 1, mode="edge")
    gx = (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:] - g[:-2, :-2] - 2 * g[1:-1, :-2] - g[2:, :-2]) / 8
    gy = (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:] - g[:-2, :-2] - 2 * g[:-2, 1:-1] - g[:-2, 2:]) / 8
    return np.sqrt(gx * gx + gy * gy)


def occlusion_edges(depth: np.ndarray, valid: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1 on both sides of every neighbouring pixel pair on different surfaces whose depths jump by
    more than OCCLUSION_JUMP (relative); invalid (sky) pixels count as infinitely far."""
    z = np.where(valid, depth, np.inf)
    edges = np.zeros(z.shape, dtype=bool)
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        za, zb = z[tuple(a)], z[tuple(b)]
        with np.errstate(invalid="ignore"):
            jump = np.abs(za - zb) / np.minimum(za, zb)
        both_sky = ~np.isfinite(za) & ~np.isfinite(zb)
        edge = (ids[tuple(a)] != ids[tuple(b)]) & ~both_sky & ((jump > OCCLUSION_JUMP) | ~np.isfinite(jump))
        edges[tuple(a)] |= edge
        edges[tuple(b)] |= edge
    return edges


def _box_corners(prim: Primitive) -> np.ndarray:
    half = np.array(prim.size)
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return (signs * half) @ _yaw_matrix(prim.yaw).T + np.array([prim.center[0], half[1], prim.center[1]])


def project(scene: Scene, points: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) pixel coordinates (pixel centres at integers) and camera-axis depth of world points."""
    cam = (points - scene.camera.position) @ scene.camera.rotation
    z = -cam[:, 2]
    tan = scene.camera.tan_half_fov
    with np.errstate(divide="ignore", invalid="ignore"):
        col = (cam[:, 0] / (z * tan) + 1) / 2 * resolution - 0.5
        row = (1 - cam[:, 1] / (z * tan)) / 2 * resolution - 0.5
    return np.stack([col, row], axis=1), z


def _keypoints(scene: Scene, depth: np.ndarray, valid: np.ndarray, resolution: int) -> np.ndarray:
    """Visible box corners inside the image: not hidden by a nearer surface at their pixel."""
    corners = [_box_corners(p) for p in scene.primitives if p.kind == "box"]
    xy, z = project(scene, np.concatenate(corners), resolution)
    inside = (z > 0) & np.all((xy >= 0) & (xy <= resolution - 1), axis=1)
    xy, z = xy[inside], z[inside]
    pix = np.rint(xy).astype(int)
    seen = np.where(valid[pix[:, 1], pix[:, 0]], depth[pix[:, 1], pix[:, 0]], np.inf)
    return xy[z <= seen * 1.03]


def keypoint_heatmap(xy: np.ndarray, resolution: int) -> np.ndarray:
    """Max of Gaussians (sigma scales with the resolution) centred on the keypoints."""
    sigma = max(0.8, resolution / 40)
    grid = np.arange(resolution, dtype=np.float64)
    heat = np.zeros((resolution, resolution))
    for col, row in xy:
        g = np.exp(-((grid[:, None] - row) ** 2 + (grid[None, :] - col) ** 2) / (2 * sigma**2))
        heat = np.maximum(heat, g)
    return heat


def render(scene: Scene, resolution: int, rng: np.random.Generator) -> Rendering:
    """Render `scene` at `resolution` x `resolution`; `rng` only draws the sensor noise."""
    cam = scene.camera
    n = resolution
    tan = cam.tan_half_fov
    centers = (np.arange(n) + 0.5) / n * 2 - 1
    x_ndc, y_ndc = np.meshgrid(centers, -centers)
    d_cam = np.stack([x_ndc * tan, y_ndc * tan, -np.ones_like(x_ndc)], axis=-1).reshape(-1, 3)
    d_cam /= np.linalg.norm(d_cam, axis=1, keepdims=True)
    d = d_cam @ cam.rotation.T
    o = np.broadcast_to(cam.position, d.shape)

    t, ids, normals = _cast(scene, o, d, with_ground=True)
    hit = np.isfinite(t)
    points = o + np.where(hit, t, 0.0)[:, None] * d

    # Direct light with cast shadows from the primitives (the ground cannot shadow anything).
    lambert = np.clip(normals @ scene.light, 0.0, None)
    shadow_o = points + normals * 1e-3
    shadow_t, _, _ = _cast(scene, shadow_o, np.broadcast_to(scene.light, d.shape), with_ground=False)
    lit = ~np.isfinite(shadow_t)
    shade = scene.ambient + (1 - scene.ambient) * lambert * lit
    sky_mix = np.clip(d[:, 1], 0.0, 1.0)[:, None]
    sky = scene.sky_colors[0] * (1 - sky_mix) + scene.sky_colors[1] * sky_mix
    albedo = np.where(hit[:, None], _albedo(scene, ids, points), 0.0)
    rgb = np.where(hit[:, None], albedo * shade[:, None], sky).reshape(n, n, 3)

    gray = rgb @ np.array([0.299, 0.587, 0.114])
    edge = np.clip(_sobel_magnitude(gray) / EDGE_FULL_SCALE, 0.0, 1.0)
    noisy = np.clip(rgb + rng.normal(0.0, RGB_NOISE, size=rgb.shape), 0.0, 1.0)

    valid = hit.reshape(n, n)
    depth = np.where(hit, t * -d_cam[:, 2], 0.0).reshape(n, n)
    normal_cam = np.where(hit[:, None], normals @ cam.rotation, 0.0).reshape(n, n, 3)
    reshade = np.where(hit, np.clip(-np.einsum("ij,ij->i", normals, d), 0.0, 1.0), 0.0).reshape(n, n)
    id_map = ids.reshape(n, n)
    kinds = np.array([1] + [SEGMENT_CLASSES.index(p.kind) for p in scene.primitives])
    segment = np.where(id_map >= 0, kinds[np.maximum(id_map, 0)], 0)

    keypoints = _keypoints(scene, depth, valid, n)[:MAX_KEYPOINTS]
    keypoints_xy = np.full((MAX_KEYPOINTS, 2), np.nan, dtype=np.float32)
    keypoints_xy[: len(keypoints)] = keypoints

    f32 = np.float32
    return Rendering(
        rgb=np.rint(noisy * 255).astype(np.uint8).transpose(2, 0, 1),
        depth=depth[None].astype(f32),
        valid=valid[None],
        normal=normal_cam.transpose(2, 0, 1).astype(f32),
        segment=segment.astype(np.uint8),
        edge=edge[None].astype(f32),
        occlusion=occlusion_edges(depth, valid, id_map)[None].astype(f32),
        keypoint=keypoint_heatmap(keypoints, n)[None].astype(f32),
        reshade=reshade[None].astype(f32),
        albedo=albedo.reshape(n, n, 3).transpose(2, 0, 1).astype(f32),
        shadow=(hit & (lambert > 0) & ~lit).reshape(1, n, n).astype(f32),
        height=np.where(hit, points[:, 1], 0.0).reshape(1, n, n).astype(f32),
        keypoints_xy=keypoints_xy,
    )
