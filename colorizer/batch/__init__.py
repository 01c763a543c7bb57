"""Folder processing shared by the command line and the app.

Inputs are files or folders (recursive; the sub-folder structure is kept under the output folder).
Each file is processed on its own: a bad file is reported and the batch goes on; whatever in an
input folder cannot be read (unreadable sub-folders, broken links, FIFOs) is named as a failure.
Outputs are written atomically, never over an input and never over a file this run did not write
(unless ``overwrite``; a taken name moves the photo's outputs to ``<stem>-1``..., and the result says
so). If a file is interrupted (Ctrl+C, SIGTERM) the outputs already written for it are removed, so a
photo is either fully done or not at all; ``skip_existing`` resumes by checking that every output the
options ask for exists and is a whole image (missing ones are made). Full-resolution renders are
streamed into the encoders strip by strip, and a photo that would not fit in memory is refused before
it is decoded. In the grouped CUDA path, writes already running when Ctrl+C arrives are
finished rather than rolled back (each output file is complete either way). On CUDA, photos go
through the network in groups (``predict_batch``) and are decoded, rendered and written by a few
worker threads. Every photo is rendered by ``colorizer.recipe.render`` with its job's recipe (e.g.
the photo's own sidecar) or the batch's.

Modules: ``jobs`` (inputs -> outputs), ``outputs`` (each photo's output names: never replace, resume),
``photo`` (one photo: load, render, write, all or nothing),
``run`` (the loop, sequential or grouped), ``report`` (per-file results, progress).
"""

from colorizer.batch.jobs import (GROUP_PIXEL_BUDGET, OUTPUT_FORMATS, Job, OutputFolderError, check_output_folder,
                                  collect_jobs, find_photos, job_groups)
from colorizer.batch.outputs import OutputClaims, OutputPlan, is_whole_image, output_suffixes, variant_path
from colorizer.batch.photo import ColorizeOptions, process_file, render_outputs
from colorizer.batch.report import BatchReport, FileResult, ProgressTracker
from colorizer.batch.run import CUDA_BATCH_SIZE, batch_size_for, run_batch

__all__ = ["GROUP_PIXEL_BUDGET", "OUTPUT_FORMATS", "CUDA_BATCH_SIZE", "Job", "OutputFolderError", "check_output_folder",
           "collect_jobs", "find_photos", "job_groups", "OutputClaims", "OutputPlan", "is_whole_image",
           "output_suffixes", "variant_path", "ColorizeOptions", "process_file", "render_outputs", "BatchReport",
           "FileResult", "ProgressTracker", "batch_size_for", "run_batch"]
