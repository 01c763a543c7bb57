"""One-line error messages (colorizer.messages)."""

from colorizer.messages import one_line


def test_first_non_empty_line_without_escapes_or_runs_of_spaces():
    exc = RuntimeError("\n  \x1b[31mCUDA out of   memory.\x1b[0m Tried to allocate\nsecond line\n")
    assert one_line(exc) == "CUDA out of memory. Tried to allocate"


def test_empty_message_gives_the_type_and_long_ones_are_cut():
    assert one_line(ValueError()) == "ValueError"
    assert one_line(ValueError("   ")) == "ValueError"
    text = one_line(OSError("x" * 500), limit=50)
    assert len(text) == 50 and text.endswith("...")
