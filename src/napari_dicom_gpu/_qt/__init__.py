"""The dock widget's Qt parts, one module per panel."""

from .widget import DicomDecodeWidget

__all__ = ["DicomDecodeWidget"]
