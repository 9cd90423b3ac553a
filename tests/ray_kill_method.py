"""A GAN whose worker process dies once mid-run (for the Ray retry test): at step 15 of a
smoke run, if ``$KILL_MARKER_DIR/killed`` does not exist yet, it creates it and exits the
process. It also appends the first step each process trains to ``starts.txt``."""

import os
from pathlib import Path

from collapsebench.baselines.gan import GAN


class KillOnceGAN(GAN):
    name = "kill-once-gan"

    def observe(self, D, data, idx, done, rng):
        folder = Path(os.environ["KILL_MARKER_DIR"])
        if not getattr(self, "_logged", False):
            with open(folder / "starts.txt", "a") as f:
                f.write(f"{done}\n")
            self._logged = True
        if done == 15 and not (folder / "killed").exists():
            (folder / "killed").write_text("1")
            os._exit(1)
