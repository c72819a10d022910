"""Train on a TRL export with TRL's own code, on the CPU (run with .venv-trl's Python, see
scripts/setup-trainer-venv):

    python check_trl.py MODEL_DIR PARQUET MIN_PIXELS MAX_PIXELS MAX_LENGTH OUTPUT_DIR

As TRAINING.md says: datasets' parquet loader (images decoded from the bytes inside the file, read from
wherever it lies), the processor made with min_pixels/max_pixels, SFTConfig(max_length=...). SFTTrainer
picks its vision collator (DataCollatorForVisionLanguageModeling) itself; that collator collates every
sample, then SFTTrainer trains one step of the tiny model.

Prints JSON: per sample the image grids (t, h, w in 14-px patches), the image-pad tokens and the length;
the training step's loss.
"""

import json
import sys
from pathlib import Path

import torch
from datasets import load_dataset
from transformers import AutoModelForImageTextToText, AutoProcessor
from trl import SFTConfig, SFTTrainer


def main() -> None:
    model_dir, parquet, min_pixels, max_pixels, max_length = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    output = Path(sys.argv[6])
    torch.manual_seed(0)
    dataset = load_dataset("parquet", data_files=parquet, split="train", cache_dir=str(output / "datasets"))
    processor = AutoProcessor.from_pretrained(model_dir, min_pixels=min_pixels, max_pixels=max_pixels)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    args = SFTConfig(output_dir=str(output / "train"), max_length=max_length, max_steps=1, per_device_train_batch_size=2,
                     save_strategy="no", logging_steps=1, report_to="none", use_cpu=True, bf16=False,
                     dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor)
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    samples = []
    for row in trainer.train_dataset:  # one sample a batch, so each sample's grids are its own
        batch = trainer.data_collator([row])
        ids = batch["input_ids"][0][batch["attention_mask"][0].bool()]
        samples.append({
            "length": int(ids.numel()),
            "image_grids": batch["image_grid_thw"].tolist(),
            "image_pad_tokens": int((ids == pad).sum()),
        })
    result = trainer.train()
    print(json.dumps({"collator": type(trainer.data_collator).__name__, "samples": samples,
                      "train_loss": result.training_loss}))


if __name__ == "__main__":
    main()
