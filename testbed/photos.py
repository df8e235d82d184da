"""Real photos of people for tests, read from the ultralytics wheel's sample assets.

The ``ultralytics==8.4.190`` wheel ships ``ultralytics/assets/bus.jpg`` (people
standing, full bodies) and ``zidane.jpg`` (two men, waist up). The wheel is fetched
once with ``pip download --no-deps`` into ``cache_dir()/wheels`` and reused.
"""

from __future__ import annotations

import zipfile

import cv2
import numpy as np

from posecore.model_bundle import cache_dir, fetch_wheel

PHOTO_WHEEL = "ultralytics==8.4.190"


def real_photo(name: str) -> np.ndarray:
    """The asset ``name`` (e.g. ``"zidane.jpg"``) as an RGB uint8 array (H, W, 3)."""
    wheel = fetch_wheel(PHOTO_WHEEL, cache_dir() / "wheels")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(f"ultralytics/assets/{name}")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{name} in {wheel} is not a decodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
