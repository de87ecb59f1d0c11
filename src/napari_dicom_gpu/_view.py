"""Keep newly opened DICOM layers in sight.

napari fits the view to the first layer only. DICOM layers are placed in patient millimetres, so
a CT opened after an ultrasound cine (placed at the origin in pixels) can land far outside the
view and nothing visible happens. A watcher on the viewer's layer list fits the view when a new
DICOM layer shares no area with what was there before and does not cover the view's centre.
"""

from __future__ import annotations

import weakref

import numpy as np

_watched: weakref.WeakSet = weakref.WeakSet()


def _displayed_box(viewer, layer) -> np.ndarray | None:
    """The layer's world bounding box on the displayed axes, shape (2, displayed)."""
    world_ndim = viewer.dims.ndim
    extent = np.asarray(layer.extent.world, float)
    offset = world_ndim - extent.shape[1]  # layers are right-aligned in the world
    axes = [axis - offset for axis in viewer.dims.displayed if axis - offset >= 0]
    if len(axes) != len(viewer.dims.displayed):
        return None
    return extent[:, axes]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a[0] <= b[1]) and np.all(b[0] <= a[1]))


def is_dicom_layer(layer) -> bool:
    metadata = getattr(layer, "metadata", None) or {}
    return "decode" in metadata and "source_paths" in metadata


def lies_outside_view(viewer, layer) -> bool:
    """Whether ``layer`` is away from everything else in the viewer and from the view's centre."""
    box = _displayed_box(viewer, layer)
    if box is None:
        return False
    centre = np.asarray(viewer.camera.center, float)[-box.shape[1] :]
    if np.all(box[0] <= centre) and np.all(centre <= box[1]):
        return False
    others = [b for other in viewer.layers if other is not layer and (b := _displayed_box(viewer, other)) is not None]
    return not any(_overlap(box, other) for other in others)


def _on_inserted(viewer_ref, event) -> None:
    viewer = viewer_ref()
    layer = getattr(event, "value", None)
    if viewer is None or layer is None or not is_dicom_layer(layer):
        return
    if len(viewer.layers) > 1 and lies_outside_view(viewer, layer):
        viewer.reset_view()


def keep_new_layers_in_view(viewer) -> None:
    """Install the watcher on ``viewer`` (once; harmless to call again)."""
    if viewer is None or viewer in _watched:
        return
    _watched.add(viewer)
    ref = weakref.ref(viewer)
    viewer.layers.events.inserted.connect(lambda event: _on_inserted(ref, event))


def keep_current_viewer_in_view() -> None:
    """Install the watcher on napari's current viewer, if there is one (the reader's case)."""
    try:
        from napari import current_viewer

        keep_new_layers_in_view(current_viewer())
    except Exception:  # no napari viewer (a script or the CLI): nothing to keep in view
        pass
