"""Model metadata, contract checks, locations and discovery."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

import denoiser
from denoiser import models
from denoiser.errors import ModelError
from denoiser.models import ModelNotFoundError


def test_full_metadata_is_read(color_model):
    info = models.load_model_info(color_model)
    assert (info.name, info.family, info.channels, info.multiple) == ("ae-color", "ae", 3, 8)
    assert info.sigma_range == (0.0, 75.0) and info.noise_type == "gaussian"
    assert info.benchmarks["CBSD68"]["25"]["psnr"] == 31.0
    assert info.inputs == ("noisy", "sigma") and not info.blind and not info.stochastic
    assert info.metadata["version"] == "1.0.0"
    assert hash(info)  # usable as a dict key by the GUI


def test_bare_model_gets_defaults(tmp_path, build):
    info = models.load_model_info(build.mean(tmp_path / "mine.onnx", channels=1, sigma=False))
    assert (info.name, info.family, info.channels, info.multiple) == ("mine", "ae", 1, 1)
    assert info.blind and info.benchmarks == {} and info.extra_inputs == {}


def test_vae_has_optional_temperature(vae_path):
    info = models.load_model_info(vae_path)
    assert info.stochastic and info.family == "vae" and "temperature" in info.inputs
    assert info.extra_inputs["temperature"]["default"] == 0


@pytest.mark.parametrize("maker,words", [
    ("wrong_io", "no input named 'noisy'"),
    ("wrong_rank", "N x C x H x W"),
])
def test_wrong_inputs_are_rejected_in_one_sentence(tmp_path, build, maker, words):
    path = getattr(build, maker)(tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match=words) as e:
        models.load_model_info(path)
    assert "\n" not in str(e.value)


def test_malformed_file_is_rejected(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"this is not a protobuf at all \x00\xff")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        models.load_model_info(bad)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty.onnx").touch()
    with pytest.raises(ModelError):
        models.load_model_info(tmp_path / "empty.onnx")


def test_dynamic_channels_without_metadata_is_rejected(tmp_path, build):
    path = build.mean(tmp_path / "dyn.onnx", channels=3, static_channels=False)
    with pytest.raises(ModelError, match="channels"):
        models.load_model_info(path)
    ok = build.mean(tmp_path / "dyn2.onnx", channels=3, static_channels=False,
                    meta={"channels": "3"})
    assert models.load_model_info(ok).channels == 3


def test_bad_metadata_values_are_rejected(tmp_path, build):
    path = build.mean(tmp_path / "m.onnx", meta={"multiple": "eight"})
    with pytest.raises(ModelError, match="multiple"):
        models.load_model_info(path)
    path = build.mean(tmp_path / "j.onnx", meta={"benchmarks": "{not json"})
    with pytest.raises(ModelError, match="benchmarks"):
        models.load_model_info(path)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError):
        models.load_model_info(tmp_path / "nope.onnx")


def test_shipped_dir_env_bundle_and_source(monkeypatch, tmp_path):
    monkeypatch.delenv("DENOISER_MODELS_DIR", raising=False)
    src = Path(denoiser.__file__).resolve().parent.parent / "resources" / "models"
    assert models.shipped_models_dir() == src
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert models.shipped_models_dir() == tmp_path / "resources" / "models"
    monkeypatch.setenv("DENOISER_MODELS_DIR", str(tmp_path / "x"))
    assert models.shipped_models_dir() == tmp_path / "x"


@pytest.mark.parametrize("platform,env,expected", [
    ("linux", {"XDG_DATA_HOME": "/xdg"}, "/xdg/denoiser/models"),
    ("linux", {}, "HOME/.local/share/denoiser/models"),
    ("win32", {"APPDATA": "/appdata"}, "/appdata/denoiser/models"),
    ("darwin", {}, "HOME/Library/Application Support/denoiser/models"),
])
def test_user_models_dir_per_platform(monkeypatch, tmp_path, platform, env, expected):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in ("XDG_DATA_HOME", "APPDATA"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert models.user_models_dir() == Path(expected.replace("HOME", str(tmp_path)))


def test_discovery_lists_shipped_and_user_and_skips_broken(installed_models, caplog):
    user = models.user_models_dir()
    user.mkdir(parents=True)
    (user / "broken.onnx").write_bytes(b"garbage")
    import shutil

    shutil.copy(installed_models[0], user / "my-model.onnx")
    with caplog.at_level(logging.WARNING, logger="denoiser.models"):
        found = models.discover_models()
    assert [m.path.name for m in found] == ["ae-color.onnx", "ae-gray.onnx", "my-model.onnx"]
    assert "broken.onnx" in caplog.text


def test_find_model_by_name_and_path(installed_models, tmp_path, build):
    assert models.find_model("ae-gray").channels == 1
    own = build.mean(tmp_path / "own.onnx", sigma=False)
    assert models.find_model(str(own)).name == "own"
    assert models.find_model(own).name == "own"
    with pytest.raises(ModelNotFoundError, match="no model named 'ae-huge'.*ae-color"):
        models.find_model("ae-huge")
    with pytest.raises(ModelNotFoundError):
        models.find_model(str(tmp_path / "missing.onnx"))


def test_a_name_finds_its_int8_variant_when_only_that_is_installed(models_dir, build):
    """The installer ships ae-gray-int8 in place of ae-gray: `--model ae-gray` still works."""
    build.mean(models_dir / "ae-gray-int8.onnx", channels=1, meta={"name": "ae-gray-int8"})
    assert models.find_model("ae-gray").name == "ae-gray-int8"
    build.mean(models_dir / "ae-gray.onnx", channels=1, meta={"name": "ae-gray"})
    assert models.find_model("ae-gray").name == "ae-gray"
    assert models.find_model("ae-gray-int8").name == "ae-gray-int8"


def test_default_model_prefers_named_then_matching_channels(models_dir, build):
    with pytest.raises(ModelError, match="No denoising model"):
        models.default_model(3)
    build.mean(models_dir / "a.onnx", channels=1, meta={"name": "grey-x"})
    assert models.default_model(3).name == "grey-x"  # anything beats nothing
    build.mean(models_dir / "b.onnx", channels=3, meta={"name": "colour-x"})
    assert models.default_model(3).name == "colour-x"
    build.mean(models_dir / "c.onnx", channels=3, meta=build.color_meta)
    assert models.default_model(3).name == "ae-color"
    assert models.default_model(1).name == "grey-x"
    build.mean(models_dir / "d.onnx", channels=3, meta={**build.color_meta, "name": "ae-photo"})
    assert models.default_model(3).name == "ae-photo"  # colour photos get the photo model


def test_default_model_takes_the_int8_variant_where_only_it_ships(models_dir, build):
    for name in ("ae-color-int8", "ae-photo-int8"):  # what the bundle carries
        build.mean(models_dir / f"{name}.onnx", channels=3, meta={**build.color_meta, "name": name})
    assert models.default_model(3).name == "ae-photo-int8"
    photo = {**build.color_meta, "name": "ae-photo"}
    build.mean(models_dir / "ae-photo.onnx", channels=3, meta=photo)
    assert models.default_model(3).name == "ae-photo"  # the float model where both are there


def _stand_in_pair(models_dir, build) -> None:
    """An int8 ae-color and a float32 stand-in for it, as the app ships them."""
    build.mean(models_dir / "ae-color.onnx", channels=3,
               meta={**build.color_meta, "precision": "int8"})
    build.mean(models_dir / "ae-color-avx2.onnx", channels=3,
               meta={**build.color_meta, "name": "ae-color-avx2", "stand_in_for": "ae-color"})


@pytest.mark.parametrize("int8", ["slow", "fast"])
def test_an_int8_model_gives_way_to_its_stand_in_where_int8_is_slow(models_dir, build,
                                                                    monkeypatch, int8):
    _stand_in_pair(models_dir, build)
    monkeypatch.setenv("DENOISER_INT8", int8)
    file = "ae-color-avx2.onnx" if int8 == "slow" else "ae-color.onnx"
    listed = models.discover_models()
    assert [(m.name, m.path.name) for m in listed] == [("ae-color", file)]  # one, by its name
    assert models.find_model("ae-color").path.name == file
    assert models.default_model(3).path.name == file
    assert models.find_model("ae-color-avx2").path.name == "ae-color-avx2.onnx"  # asked for
    assert listed[0].summary()["stands_in_for"] == ("ae-color" if int8 == "slow" else None)


def test_a_stand_in_keeps_its_name_without_its_model_and_stands_in_for_int8_only(
        models_dir, build, monkeypatch):
    monkeypatch.setenv("DENOISER_INT8", "slow")
    build.mean(models_dir / "ae-color-avx2.onnx", channels=3,
               meta={**build.color_meta, "name": "ae-color-avx2", "stand_in_for": "ae-color"})
    assert [m.name for m in models.discover_models()] == ["ae-color-avx2"]
    build.mean(models_dir / "ae-color.onnx", channels=3, meta=build.color_meta)  # float32
    assert [m.path.name for m in models.discover_models()] == ["ae-color.onnx"]
