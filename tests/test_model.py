import pytest
import torch
import torch.nn.functional as F

from colorizer.model import LAYER_STRIDES, ModelConfig, build_model, pixel_centre_positions


def naive_dense(model, gray, out_size):
    """Concatenate every layer upsampled to the output grid, then apply the whole first layer."""
    feats = model.features(gray)
    ups = [F.interpolate(feats[n], size=out_size, mode="bilinear", align_corners=False) for n in model.config.layers]
    hyper = torch.cat(ups, dim=1)
    weight = torch.cat([model.proj[n].weight for n in model.config.layers], dim=1)
    hidden = F.conv2d(hyper, weight) + model.proj_bias[None, :, None, None]
    return model._classify(hidden)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=24), pretrained=False).double()


def test_dense_path_equals_naive_hypercolumn(small_model):
    gray = torch.rand(2, 1, 70, 54, dtype=torch.float64)
    dense = small_model.forward_dense(gray)
    naive = naive_dense(small_model, gray, dense[0].shape[-2:])
    for d, n in zip(dense, naive):
        assert d.shape == (2, 32, 18, 14)
        torch.testing.assert_close(d, n, rtol=1e-9, atol=1e-9)


def test_sparse_path_at_pixel_centres_equals_dense(small_model):
    gray = torch.rand(1, 1, 64, 48, dtype=torch.float64)
    dense = small_model.forward_dense(gray, out_size=(16, 12))
    positions = pixel_centre_positions(16, 12, dtype=torch.float64)
    sparse = small_model.forward_sparse(gray, positions)
    for d, s in zip(dense, sparse):
        torch.testing.assert_close(s.reshape(d.shape), d, rtol=1e-9, atol=1e-9)


def test_outputs_are_normalised_log_histograms(small_model):
    out = small_model.forward_dense(torch.rand(1, 1, 33, 65, dtype=torch.float64))
    for o in out:
        torch.testing.assert_close(o.exp().sum(1), torch.ones_like(o[:, 0]))


def test_config_validation():
    with pytest.raises(ValueError, match="unknown backbone"):
        ModelConfig(backbone="resnet")
    with pytest.raises(ValueError, match="unknown hypercolumn layers"):
        ModelConfig(layers=("gray", "stage9"))
    assert set(ModelConfig().layers) <= set(LAYER_STRIDES)


def test_layer_subset_and_lab_joint_head():
    model = build_model(ModelConfig(layers=("stage2", "stage4"), hidden=8, channel_sizes=(256,)))
    out = model.forward_dense(torch.rand(1, 1, 40, 40))
    assert len(out) == 1 and out[0].shape == (1, 256, 10, 10)


def test_pretrained_backbone_loads_imagenet_weights():
    model = build_model(ModelConfig(hidden=8), pretrained=True)
    stem = model.backbone._conv_stem.weight
    assert not torch.all(model.backbone._bn0.running_var == 1)  # ImageNet statistics, not the defaults
    assert not model.training and not model.backbone._bn0.training
    random = build_model(ModelConfig(hidden=8), pretrained=False)
    assert not torch.equal(stem, random.backbone._conv_stem.weight)
