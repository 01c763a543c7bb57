import json

import pytest
import torch

from colorizer.bins import BinScheme
from colorizer.model import ModelConfig, build_model
from colorizer.weights import WeightsError, load_weights, read_metadata, save_weights


def test_round_trip_keeps_config_scheme_and_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=8, layers=("gray", "stage2")), pretrained=False)
    path = save_weights(tmp_path / "m.safetensors", model, BinScheme(), training={"steps": 3}, half=False)
    loaded = load_weights(path)
    assert loaded.model.config == model.config
    assert loaded.scheme == BinScheme()
    assert loaded.training == {"steps": 3}
    x = torch.rand(1, 1, 32, 32)
    for a, b in zip(model.forward_dense(x), loaded.model.forward_dense(x)):
        torch.testing.assert_close(a, b)


def test_half_precision_file_is_smaller_and_close(tmp_path):
    model = build_model(ModelConfig(hidden=8), pretrained=False)
    full = save_weights(tmp_path / "f.safetensors", model, BinScheme(), half=False)
    half = save_weights(tmp_path / "h.safetensors", model, BinScheme(), half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = torch.rand(1, 1, 32, 32)
    loaded = load_weights(half).model
    for a, b in zip(model.forward_dense(x), loaded.forward_dense(x)):
        torch.testing.assert_close(a.exp(), b.exp(), atol=5e-3, rtol=0)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.safetensors")


def test_truncated_file(tiny_weights, tmp_path):
    data = tiny_weights.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_weights(bad)


def test_corrupted_tensor_bytes_fail_checksum(tiny_weights, tmp_path):
    data = bytearray(tiny_weights.read_bytes())
    data[-100] ^= 0xFF
    bad = tmp_path / "flip.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_weights(bad)


def test_not_a_weights_file(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors" * 10)
    with pytest.raises(WeightsError):
        load_weights(junk)
    plain = tmp_path / "plain.safetensors"
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(2)}, str(plain))
    with pytest.raises(WeightsError, match="without colouriser metadata"):
        load_weights(plain)


def test_mismatched_architecture(tmp_path):
    model = build_model(ModelConfig(hidden=8), pretrained=False)
    path = save_weights(tmp_path / "m.safetensors", model, BinScheme())
    # rewrite the header so it claims another architecture, with a valid checksum
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    config["model"]["hidden"] = 12
    meta["config"] = json.dumps(config)
    other = tmp_path / "other.safetensors"
    save_file(tensors, str(other), metadata=meta)
    assert read_metadata(other)["model"]["hidden"] == 12
    with pytest.raises(WeightsError, match="do not match the model architecture"):
        load_weights(other)


def test_scheme_and_head_mismatch(tmp_path):
    model = build_model(ModelConfig(hidden=8), pretrained=False)
    path = save_weights(tmp_path / "m.safetensors", model, BinScheme("lab_joint", bins=16))
    with pytest.raises(WeightsError, match="do not match colour scheme"):
        load_weights(path)


@pytest.mark.parametrize("header", [b"[1, 2, 3]", b'{"__metadata__": {"format": "colorizer-weights", "format_version": "x"}}',
                                    b'{"__metadata__": {"format": "colorizer-weights", "config": "[1]"}}',
                                    b'{"__metadata__": ["not", "a", "dict"]}'])
def test_damaged_headers_raise_weights_error(tmp_path, header):
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(WeightsError, match="damaged.safetensors"):
        load_weights(path)
