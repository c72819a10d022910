"""Train on a LLaMA-Factory export with LLaMA-Factory's own code, on the CPU (run with .venv-llamafactory's
Python, see scripts/setup-trainer-venv):

    python check_llamafactory.py MODEL_DIR SETTINGS_JSON OUTPUT_DIR

SETTINGS_JSON holds the YAML block the export wrote in TRAINING.md (dataset_dir, dataset, template,
image_max_pixels, cutoff_len, ...). LLaMA-Factory's argument parser takes it with the model and an SFT stage;
its get_dataset (dataset_info.json, the sharegpt converter, the template's image plugin, cutoff_len) loads
the export; SFTDataCollatorWith4DAttentionMask (built as run_sft builds it, with the model for the rope
index) collates every sample; then run_sft trains one step of the tiny model. The same data is collated
again with LLaMA-Factory's default cutoff_len (2048), which an export whose samples are longer must not rely on.

Prints JSON: per sample its length, the image grids (t, h, w in 14-px patches), the image-pad tokens and the
text its labels train on; the default cutoff's outcome; the training step's loss.
"""

import json
import sys
from pathlib import Path

import torch
from llamafactory.data import SFTDataCollatorWith4DAttentionMask, get_dataset, get_template_and_fix_tokenizer
from llamafactory.extras.constants import IGNORE_INDEX
from llamafactory.hparams import get_train_args
from llamafactory.model import load_model, load_tokenizer
from llamafactory.train.sft.workflow import run_sft


def collate(settings: dict, model_dir: str, output: Path) -> list[dict]:
    args = {**settings, "model_name_or_path": model_dir, "stage": "sft", "do_train": True, "finetuning_type": "full",
            "output_dir": str(output), "overwrite_output_dir": True, "report_to": "none", "overwrite_cache": True}
    model_args, data_args, training_args, finetuning_args, _ = get_train_args(args)
    tokenizer_module = load_tokenizer(model_args)
    tokenizer = tokenizer_module["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    dataset = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)["train_dataset"]
    model = load_model(tokenizer, model_args, finetuning_args, training_args.do_train)
    collator = SFTDataCollatorWith4DAttentionMask(
        template=template, model=model, pad_to_multiple_of=8, label_pad_token_id=IGNORE_INDEX,
        block_diag_attn=model_args.block_diag_attn, neat_packing=data_args.neat_packing,
        attn_implementation=getattr(model.config, "_attn_implementation", None), compute_dtype=model_args.compute_dtype,
        **tokenizer_module,
    )
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    report = []
    for row in dataset:  # one sample a batch, so each sample's grids are its own
        batch = collator([row])
        ids = batch["input_ids"][0][batch["attention_mask"][0].bool()]
        labels = batch["labels"][0]
        report.append({
            "length": len(row["input_ids"]),
            "image_grids": batch["image_grid_thw"].tolist() if "image_grid_thw" in batch else [],
            "image_pad_tokens": int((ids == pad).sum()),
            "trained_text": tokenizer.decode(labels[labels != IGNORE_INDEX].tolist()),
        })
    return report


def main() -> None:
    model_dir, settings, output = sys.argv[1], json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])
    torch.manual_seed(0)
    result: dict = {"samples": collate(settings, model_dir, output / "collate")}
    try:
        collate({**settings, "cutoff_len": 2048}, model_dir, output / "default")
        result["default_cutoff"] = "ok"
    except Exception as exc:  # what a user following LLaMA-Factory's default would meet
        result["default_cutoff"] = f"{type(exc).__name__}: {exc}"
    args = {**settings, "model_name_or_path": model_dir, "stage": "sft", "do_train": True, "finetuning_type": "full",
            "output_dir": str(output / "train"), "overwrite_output_dir": True, "report_to": "none", "max_steps": 1,
            "per_device_train_batch_size": 2, "save_strategy": "no", "logging_steps": 1, "use_cpu": True,
            "dataloader_num_workers": 0, "overwrite_cache": True}
    model_args, data_args, training_args, finetuning_args, generating_args = get_train_args(args)
    losses: list[float] = []

    from transformers import TrainerCallback

    class Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    run_sft(model_args, data_args, training_args, finetuning_args, generating_args, callbacks=[Losses()])
    result["train_losses"] = losses
    print(json.dumps(result))


if __name__ == "__main__":
    main()
