"""A GAN that sleeps in every critic step, so a smoke run lasts long enough for the
reliability tests to act on it mid-training (a second process, a kill -9, a Ctrl-C).
It appends ``<pid> <first step>`` to ``$SLOW_LOG`` when a process starts training a run and,
with ``$SLOW_GATE`` set, then waits until that file exists."""

import os
import time

from collapsebench.baselines.gan import GAN


class SlowGAN(GAN):
    name = "slow-gan"

    def d_loss(self, D, real, fake, step, draw):
        if not getattr(self, "_logged", False):
            with open(os.environ["SLOW_LOG"], "a") as f:
                f.write(f"{os.getpid()} {step}\n")
            self._logged = True
            gate = os.environ.get("SLOW_GATE")
            while gate and not os.path.exists(gate):  # hold here until the test opens the gate
                time.sleep(0.02)
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0.05")))
        return super().d_loss(D, real, fake, step, draw)
