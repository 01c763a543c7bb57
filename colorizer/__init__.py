"""Automatic photo colourisation with hypercolumn colour histograms (Larsson et al., ECCV 2016)."""

__version__ = "0.1.0"
