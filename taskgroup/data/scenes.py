"""Random 3D scenes: a few textured primitives on a ground plane, a camera and a light.

A scene is drawn from a numpy Generator seeded per image, so image `i` of a dataset is the same
whatever the image count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIMITIVE_KINDS: tuple[str, ...] = ("sphere", "box", "cylinder")
TEXTURES: tuple[str, ...] = ("plain", "stripes", "checker")
GROUND_HALF_SIZE = 10.0
FOV_DEGREES = 55.0


@dataclass(frozen=True)
class Primitive:
    """One solid resting on the ground. `size` is (radius,) for spheres, half-extents (x, y, z)
    for boxes, (radius, height) for cylinders; `yaw` turns boxes about the vertical axis."""

    kind: str
    center: np.ndarray  # (x, z) on the ground
    size: tuple[float, ...]
    yaw: float
    colors: np.ndarray  # (2, 3) base and secondary albedo
    texture: str
    texture_scale: float


@dataclass(frozen=True)
class Camera:
    """Pinhole camera; `rotation` columns are the camera's right, up and back axes in world space."""

    position: np.ndarray
    rotation: np.ndarray
    fov_degrees: float = FOV_DEGREES

    @property
    def tan_half_fov(self) -> float:
        return float(np.tan(np.radians(self.fov_degrees) / 2))


@dataclass(frozen=True)
class Scene:
    camera: Camera
    light: np.ndarray  # unit vector towards a directional light
    ambient: float
    ground_colors: np.ndarray  # (2, 3) checkerboard albedos
    ground_scale: float
    sky_colors: np.ndarray  # (2, 3) horizon and zenith
    primitives: tuple[Primitive, ...]


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    return np.array(
        [np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)]
    )


def look_at(position: np.ndarray, target: np.ndarray) -> Camera:
    """A level camera at `position` looking at `target` (world up is +y)."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    return Camera(position=position, rotation=np.stack([right, up, -forward], axis=1))


def _two_colors(rng: np.random.Generator) -> np.ndarray:
    """A base albedo and a clearly different second one, so textures make visible edges."""
    base = rng.uniform(0.15, 0.95, size=3)
    other = np.clip(base + rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.25, 0.5, size=3), 0.05, 1.0)
    return np.stack([base, other])


def _primitive(kind: str, rng: np.random.Generator) -> Primitive:
    center = rng.uniform(0, 2.6) * _direction(rng.uniform(0, 2 * np.pi), 0.0)[[0, 2]]
    if kind == "sphere":
        size: tuple[float, ...] = (float(rng.uniform(0.35, 0.85)),)
    elif kind == "box":
        size = tuple(float(v) for v in rng.uniform(0.25, 0.7, size=3))
    else:
        size = (float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.5, 1.6)))
    return Primitive(
        kind=kind,
        center=center,
        size=size,
        yaw=float(rng.uniform(0, np.pi / 2)),
        colors=_two_colors(rng),
        texture=str(rng.choice(TEXTURES)),
        texture_scale=float(rng.uniform(0.12, 0.35)),
    )


def sample_scene(rng: np.random.Generator) -> Scene:
    """A random scene: 3-6 primitives (at least one box, whose corners are the keypoints)."""
    count = int(rng.integers(3, 7))
    kinds = ["box"] + [str(k) for k in rng.choice(PRIMITIVE_KINDS, size=count - 1)]
    target = np.array([rng.uniform(-0.5, 0.5), 0.3, rng.uniform(-0.5, 0.5)])
    position = target + rng.uniform(4.0, 6.0) * _direction(
        rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(12, 40))
    )
    sky = np.stack([rng.uniform(0.6, 0.9, size=3), rng.uniform(0.2, 0.6, size=3)])
    return Scene(
        camera=look_at(position, target),
        light=_direction(rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(30, 75))),
        ambient=float(rng.uniform(0.2, 0.4)),
        ground_colors=_two_colors(rng),
        ground_scale=float(rng.uniform(0.5, 1.5)),
        sky_colors=sky,
        primitives=tuple(_primitive(k, rng) for k in kinds),
    )
