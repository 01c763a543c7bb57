"""Robust photo loading and atomic saving.

Loading honours EXIF orientation, reads 8/16-bit, palette, alpha, CMYK and colour photos, and
reduces everything to the lightness the network sees; anything unreadable raises
:class:`ImageReadError` whose message names the file and the reason in one line.

Decisions (see also ``docs``):

- 16-bit inputs (PNG, TIFF, gray or colour) are read at full precision; Pillow would reduce
  16-bit colour to 8 bits, so those go through OpenCV. ``save_image(depth=16)`` writes a 16-bit
  PNG (other formats stay 8-bit): the output then keeps the scan's tonal precision exactly.
- The pixel limit (``max_pixels``, default 89.5 MP, Pillow's own warning level) is checked from
  the header before any pixel is decoded; Pillow independently refuses anything above twice its
  limit (~179 MP), so larger ``max_pixels`` values cannot lift that.
- Metadata: descriptive EXIF (camera, dates, author, GPS) is kept, orientation is reset to 1
  (pixels are stored upright), thumbnails/maker notes/file-structure tags are dropped; an ICC
  profile is kept only if it is an RGB profile (a gray or CMYK profile would mislabel RGB output).
  Software/ImageDescription (EXIF) and PNG text chunks say the colour is machine-made.

Memory: photos are converted to lightness and written strip by strip (``pixels``, ``write``); a photo
that would not fit in the memory available is refused from its header, before decoding (``memory``).

Modules: ``read`` (loading), ``pixels`` (decoded pixels to float, strip by strip; orientation),
``memory`` (the estimate), ``write`` and ``png16`` (saving); atomic renames come from ``colorizer.atomic``.
"""

from colorizer.imageio.memory import available_memory, check_memory, colorize_memory_bytes
from colorizer.imageio.pixels import orient, unorient
from colorizer.imageio.read import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageHeader, ImageReadError, LoadedImage,
                                    classify_colour, image_header, is_image_file, load_image, load_rgb, load_rgb_alpha,
                                    special_file_kind)
from colorizer.imageio.write import (MACHINE_NOTE, OUTPUT_FORMATS, SOFTWARE_TAG, ImageWriteError, OutputExistsError,
                                     save_image, to_uint)

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "OUTPUT_FORMATS", "ImageHeader", "ImageReadError",
           "ImageWriteError", "LoadedImage", "MACHINE_NOTE", "OutputExistsError", "SOFTWARE_TAG", "available_memory",
           "check_memory", "classify_colour",
           "colorize_memory_bytes", "image_header", "is_image_file", "load_image", "load_rgb", "load_rgb_alpha",
           "orient", "save_image", "special_file_kind", "to_uint", "unorient"]
