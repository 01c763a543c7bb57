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


@pytest.fixture(scope="module")
def ensemble_model():
    torch.manual_seed(1)
    model = build_model(ModelConfig(hidden=8, members=3, global_features=True, temperatures=(1.5, 0.8)))
    for p in model.head_parameters():  # the global projection starts at zero; make it matter here
        torch.nn.init.normal_(p, std=0.3)
    return model.double()


def test_ensemble_with_global_features_sparse_equals_dense(ensemble_model):
    gray = torch.rand(2, 1, 64, 48, dtype=torch.float64)
    dense = ensemble_model.forward_dense(gray, out_size=(16, 12))
    sparse = ensemble_model.forward_sparse(gray, pixel_centre_positions(16, 12, dtype=torch.float64).expand(2, -1, -1))
    for d, s in zip(dense, sparse):
        torch.testing.assert_close(s.reshape(d.shape), d, rtol=1e-9, atol=1e-9)


def test_ensemble_output_is_the_average_of_calibrated_members(ensemble_model):
    m = ensemble_model
    feats = m.features(torch.rand(1, 1, 40, 40, dtype=torch.float64))
    hidden = m.hidden_dense(feats, (10, 10))
    members = m.member_log_probs(hidden)
    assert members[0].shape == (1, 3, 32, 10, 10)
    # member 1 by hand: its slice of the wide hidden layer through its own classifier
    h = F.relu(hidden[:, 8:16])
    w, b = m.heads[0].weight[32:64], m.heads[0].bias[32:64]
    by_hand = F.log_softmax(F.conv2d(h, w) + b[None, :, None, None], dim=1)
    torch.testing.assert_close(members[0][:, 1], by_hand)
    torch.testing.assert_close(m.mixture(members[0]).exp(), members[0].exp().mean(1))
    # the output: the members' average, calibrated by p^(1/T) per channel
    mix = m._classify(hidden)
    for c, t in enumerate((1.5, 0.8)):
        avg = members[c].exp().mean(1)
        torch.testing.assert_close(mix[c].exp(), avg ** (1 / t) / (avg ** (1 / t)).sum(1, keepdim=True))
        torch.testing.assert_close(mix[c].exp().sum(1), torch.ones_like(mix[c][:, 0]))


def test_global_features_change_every_pixel_by_the_same_hidden_offset(ensemble_model):
    m = ensemble_model
    feats = m.features(torch.rand(1, 1, 40, 40, dtype=torch.float64))
    assert feats["global"].shape == (1, 1280)
    shifted = dict(feats, **{"global": feats["global"] + 1.0})
    delta = m.hidden_dense(shifted, (10, 10)) - m.hidden_dense(feats, (10, 10))
    torch.testing.assert_close(delta, delta[:, :, :1, :1].expand_as(delta))
    assert float(delta.detach().abs().max()) > 0


def test_ensemble_config_validation():
    with pytest.raises(ValueError, match="at least one member"):
        ModelConfig(members=0)
    with pytest.raises(ValueError, match="temperatures"):
        ModelConfig(temperatures=(1.0,))


def test_auto_levels_undoes_a_faded_print_and_leaves_flat_images_alone():
    from colorizer.model import auto_levels

    crisp = torch.linspace(0, 1, 64 * 48).reshape(1, 1, 64, 48)
    faded = 0.15 + 0.6 * crisp
    a, b = auto_levels(crisp), auto_levels(faded)
    torch.testing.assert_close(a, b, atol=2e-3, rtol=0)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert abs(float(torch.quantile(a.flatten(), 0.01)) - 0.02) < 1e-3
    flat = torch.full((1, 1, 8, 8), 0.4)
    torch.testing.assert_close(auto_levels(flat), flat)


def test_input_levels_make_the_model_see_faded_and_crisp_alike():
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=8, input_levels=True)).double()
    crisp = torch.rand(1, 1, 40, 40, dtype=torch.float64)
    faded = 0.2 + 0.5 * crisp
    for x, y in zip(model.forward_dense(crisp), model.forward_dense(faded)):
        torch.testing.assert_close(x, y, atol=5e-3, rtol=0)
