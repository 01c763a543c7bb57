"""Where a model comes from, for people: a short summary of a weights file's ``training`` record
(``colorizer eval`` prints it; the app shows it beside a model's name).

Two kinds of record exist: a model trained by ``colorizer train`` (photos, steps, validation figures)
and one fine-tuned by ``colorizer finetune`` (base model, the user's photos, held-out figures, date).
"""

from __future__ import annotations

from typing import Any


def describe_provenance(training: dict[str, Any] | None) -> dict[str, Any]:
    """A compact, JSON-ready summary of a weights file's ``training`` record; ``kind`` is
    ``fine-tuned``, ``trained`` or ``unknown``."""
    training = training or {}
    tuned = training.get("finetune")
    if isinstance(tuned, dict):
        base = tuned.get("base_model") or {}
        return {"kind": "fine-tuned", "base_model": base.get("file"), "base_sha256": base.get("sha256"),
                "photos": tuned.get("photos"), "held_out_photos": tuned.get("held_out_photos"),
                "photos_hash": tuned.get("photos_hash"), "held_out": tuned.get("held_out"),
                "date": tuned.get("date"), "seconds": tuned.get("seconds"), "skipped": tuned.get("skipped"),
                "look": tuned.get("look") if isinstance(tuned.get("look"), dict) else None}
    data = training.get("data")
    if isinstance(data, dict):
        where = f"{data.get('manifest')} split={data.get('split')}" if data.get("manifest") else "folders"
        robust = training.get("robust_backbone")
        return {"kind": "trained", "photos": data.get("images"), "data": where, "steps": training.get("steps"),
                "robust_steps": robust.get("steps") if isinstance(robust, dict) else None,
                "validation": training.get("val_metrics"), "date": training.get("date")}
    return {"kind": "unknown"}


def describe_look(look: dict[str, Any] | None) -> str | None:
    """A fine-tune's look (``FinetuneResult.look``, the record's ``look``) as "neutral balance 0 (the start
    model uses 0.5)"; None when there is none or the record is damaged (not numbers)."""
    look = look if isinstance(look, dict) else {}
    chosen, start = look.get("cast_removal"), look.get("start_cast_removal")
    if not _is_number(chosen) or not (start is None or _is_number(start)):
        return None
    same = start is None or start == chosen
    return f"neutral balance {chosen:g}" + (" (as the start model)" if same else f" (the start model uses {start:g})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _figures(fig: dict | None) -> str:
    if not isinstance(fig, dict) or fig.get("psnr") is None:
        return "-"
    return f"PSNR {fig['psnr']:.2f} dB, ab RMSE {fig.get('ab_rmse', float('nan')):.2f}"


def format_provenance(summary: dict[str, Any]) -> list[str]:
    """The summary of :func:`describe_provenance` as a few readable lines."""
    if summary.get("kind") == "fine-tuned":
        base = summary.get("base_model") or "?"
        digest = (summary.get("base_sha256") or "")[:12]
        date = (summary.get("date") or "")[:10]
        lines = [f"fine-tuned from {base}" + (f" (sha256 {digest}...)" if digest else "")
                 + f" on {summary.get('photos')} photos" + (f", {date}" if date else "")
                 + (f", {summary['seconds'] / 60:.1f} min" if summary.get("seconds") is not None else "")]
        held = summary.get("held_out") or {}
        if held:
            lines.append(f"on its {summary.get('held_out_photos')} held-out photos: {base} {_figures(held.get('start'))}; "
                         f"fine-tuned {_figures(held.get('new'))}")
        look = describe_look(summary.get("look"))
        if look is not None:
            lines.append(f"shown with {look}, chosen on its photos")
        return lines
    if summary.get("kind") == "trained":
        line = f"trained on {summary.get('photos')} photos ({summary.get('data')}), {summary.get('steps')} steps"
        if summary.get("robust_steps"):
            line += f", then {summary['robust_steps']} steps of old-print robustness"
        if summary.get("validation"):
            line += f"; validation {_figures(summary['validation'])}"
        return [line]
    return ["provenance unknown (no training record in the weights file)"]
