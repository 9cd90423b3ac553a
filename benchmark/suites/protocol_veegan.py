"""The VEEGAN / GDPP toy protocol (VEEGAN Table 1, GDPP Table 1): its settings, published
cells, and the measured reason beside every cell of ours that differs from a published one.

Kept apart from ``protocols.py`` because its ``differences`` are long measured texts, each
naming the runs behind it (``results/<suite>/veegan/default/``)."""

from __future__ import annotations

from .protocol import (
    GRID,
    SMOKE_EVAL,
    Mixture,
    Protocol,
    budget,
    ring,
    smoke_budget,
)

#: VEEGAN Table 1 and GDPP Table 1 report 5 runs and no spread
VEEGAN_TRIALS = 5

VEEGAN = Protocol(
    name="veegan",
    source="VEEGAN (Srivastava et al., NIPS 2017) Table 1 and GDPP (Elfeki et al., ICML 2019) "
    "Table 1, Sec. 5.1, App. A.1; M-Elfeki/GDPP gdppgan_Synthetic.py (after "
    "poolio/unrolled_gan, akashgit/VEEGAN)",
    summary="grid std 0.05, ring radius 1 std 0.01, fresh data every step; 2x128 tanh MLPs, "
    "noise 256, orthogonal init (gain 1.4); Adam lr 1e-4 D, 1e-3 G, beta1 0.5; batch 512; "
    "G and D updated simultaneously; 25,000 steps; 2,500 samples, high quality within 3 std",
    mixtures={"gaussians25": Mixture(GRID, 0.05), "ring8": Mixture(ring(1.0), 0.01)},
    n_train=2_500,
    n_per_mode=None,
    nets="veegan",
    hidden=128,
    depth=2,
    noise_dim=256,
    init_std=None,
    init_gain=1.4,
    update_order="simultaneous",
    fresh_data=True,
    method_defaults={
        "*": {"lr_d": 1e-4, "lr_g": 1e-3, "beta1": 0.5, "beta2": 0.999},
        # the sources state no WGAN-GP settings: its paper's n_critic and betas, gan_toy.py's
        # toy lambda, the protocol's two learning rates
        "wgan-gp": {
            "lr_d": 1e-4,
            "lr_g": 1e-3,
            "beta1": 0.5,
            "beta2": 0.9,
            "gp_lambda": 0.1,
            "n_critic": 5,
        },
    },  # fmt: skip
    presets={
        "smoke": smoke_budget(512),
        # one evaluation every 500 steps (the source's viz_every): collapse as it unfolds
        "default": budget(25_000, 512, evals=50),
        # four times the source's budget, evaluated as often: whether runs still sharpening at
        # 25,000 steps (GDPP on the grid) settle where the source's table says
        "long": budget(100_000, 512, evals=200),
    },
    n_eval=2500,
    covered_within=3.0,
    covered_rule="nearest",
    hq_within=3.0,
    kl_over="all",
    trials=VEEGAN_TRIALS,
    published={
        # mean over 5 runs, no spread published; hq as a fraction (the tables print percent)
        "ring8": {
            "GAN (VEEGAN Table 1)": {"modes_covered": (1.0, None), "hq_fraction": (0.993, None)},
            "ALI (VEEGAN Table 1)": {"modes_covered": (2.8, None), "hq_fraction": (0.0013, None)},
            "Unrolled GAN (VEEGAN Table 1)": {
                "modes_covered": (7.6, None),
                "hq_fraction": (0.356, None),
            },
            "VEEGAN (VEEGAN Table 1)": {"modes_covered": (8.0, None), "hq_fraction": (0.529, None)},
            "WGAN-GP (GDPP Table 1)": {"modes_covered": (6.8, None), "hq_fraction": (0.596, None)},
            "GDPP (GDPP Table 1)": {"modes_covered": (8.0, None), "hq_fraction": (0.717, None)},
        },
        "gaussians25": {
            "GAN (VEEGAN Table 1)": {"modes_covered": (3.3, None), "hq_fraction": (0.005, None)},
            "ALI (VEEGAN Table 1)": {"modes_covered": (15.8, None), "hq_fraction": (0.016, None)},
            "Unrolled GAN (VEEGAN Table 1)": {
                "modes_covered": (23.6, None),
                "hq_fraction": (0.16, None),
            },
            "VEEGAN (VEEGAN Table 1)": {"modes_covered": (24.6, None), "hq_fraction": (0.40, None)},
            "WGAN-GP (GDPP Table 1)": {"modes_covered": (24.2, None), "hq_fraction": (0.287, None)},
            "GDPP (GDPP Table 1)": {"modes_covered": (24.8, None), "hq_fraction": (0.685, None)},
        },
    },
    published_methods={
        "GAN (VEEGAN Table 1)": "gan",
        "ALI (VEEGAN Table 1)": None,
        "Unrolled GAN (VEEGAN Table 1)": "unrolled-gan",
        "VEEGAN (VEEGAN Table 1)": None,
        "WGAN-GP (GDPP Table 1)": "wgan-gp",
        "GDPP (GDPP Table 1)": "gdpp",
    },
    published_preset="default",
    published_as="VEEGAN Table 1 and GDPP Table 1, 5 runs, no spread published",
    differences={
        "ring8": {
            ("GAN (VEEGAN Table 1)", "modes_covered"): (
                "measured: the ring. On the ring the sources' code builds (--ring linspace: 7 "
                "distinct modes, one drawn twice as often) the same GAN collapses as published: "
                "0.8 modes at the end (5 seeds; agrees, ring-linspace/), and 130 of its 250 "
                "evaluations cover 1 mode or none, against 35 of 500 on 8 distinct modes. Not "
                "the cause: the update order (alternating: 8.0 modes, 5 seeds) and the "
                "generator loss (minimax: 4.6 modes; logit: 7.6)"
            ),
            ("GDPP (GDPP Table 1)", "hq_fraction"): (
                "agrees over 10 seeds; 5 understate the spread. Seeds 0-4 (the source's trial "
                "count) give 82.4 ± 2.4 % (s.e.), 4.4 s.e. above the published 71.7 %, and seeds "
                "6 and 8 give 54.0 and 52.4 % (the other eight 73.6-88.2 %). Measured, not the "
                "cause: the ring. On the sources' ring (--ring linspace) GDPP's hq is 65.7 ± "
                "14.2 % (5 seeds), and the published 8.0 modes cannot come from that ring, whose "
                "evaluation counts at most 7 (ours cover 6.2), so GDPP's table was measured on 8 "
                "distinct modes, as ours is"
            ),
            ("GAN (VEEGAN Table 1)", "hq_fraction"): (
                "not explained. Measured, not the cause: the update order (alternating: 18.8 % "
                "hq, 5 seeds), the generator loss (minimax: 7.8 %; the logit loss of VEEGAN's "
                "code, the reverse KL, --set loss=logit, loss-logit/: 14.7 %, 1 of 250 "
                "evaluations at one mode), the ring (--ring linspace: "
                "0.3 %; its collapsed samples lie between modes and off the ring), the ring and "
                "the loss together, the Unrolled GAN notebook at 0 unrolling steps (--ring "
                "linspace --set loss=minimax, seed 0: 4 modes, 0.2 %, at most 6.9 % over its 50 "
                "evaluations), D's learning rate (VEEGAN's notebook trains every net with Adam "
                "1e-3: --set lr_d=0.001, lr-d-0.001/, 3 seeds: 6.7 modes and 63.1 %, never "
                "below 2 modes at any of their 150 evaluations), the evaluation radius (that "
                "notebook scores within a fixed 0.15, 15 std of this ring: bench evaluate "
                "--within 15 gives 56.8, 97.7 and 93.4 % on 8, 7 and 8 modes for those runs, "
                "and 11.2 % for seed 0 on the sources' ring) and the notebook's nets (--nets "
                "veegan-code with its one Adam 1e-3 and the minimax loss, "
                "nets-veegan-code_loss-minimax_lr-0.001/, 5 seeds: one mode at 181 of their 250 "
                "evaluations and at the end on 2 seeds, but as a wide blob that wanders along "
                "and off the ring, at most 47.8 % within 3 std while at one mode and 41.2 and "
                "40.1 % within the notebook's 0.15 at the end; the other 3 end at 8 modes and "
                "73-77 %; updated in turn as the notebook does, 3 seeds, all end at 8 modes, "
                "61.5 %; trained for the notebook's 100,000 iterations, --preset long, 3 seeds, "
                "long/nets-veegan-code_loss-minimax_lr-0.001/, they leave the collapse for good, "
                "the last evaluation at one mode at step 33,000, and end at 8 modes with 95.4 % "
                "within 3 std; with its logit loss too, 5 seeds, "
                "long/nets-veegan-code_loss-logit_lr-0.001/: the last evaluation at one mode or "
                "none at step 17,000-31,500, all end at 8 modes with 92.6 % within 3 std and "
                "96.7-99.4 % within 0.15). No evaluation reaches 99 %: at most 90.8 % in the "
                "protocol's own "
                "runs (at 8 modes), 92.2 % with D at 1e-3 (at 6 modes), 97.5 % with the "
                "notebook's nets (at 8 modes, 100,000 steps) "
                "and 33.2 % on the sources' ring. Closest: the GAN of VEEGAN's code, its "
                "nets with its logit loss and one Adam at 1e-3 (--nets veegan-code --set "
                "loss=logit lr=0.001, nets-veegan-code_loss-logit_lr-0.001/, 10 seeds): 3 of 10 "
                "seeds end at one mode with 85.8, 100 and 100 % within the notebook's 0.15, the "
                "published 1 mode and 99.3 % if that radius is what the table's hq counted, but "
                "at most 64.9 % within 3 std at any evaluation at one mode; the other 7 end at 8 "
                "modes (over the 10: 5.9 modes, 91.2 ± 1.9 % s.e. within 0.15). With PyTorch's "
                "smaller default init (--nets veegan-code-torch-init, 10 seeds) 6 of 10 end "
                "collapsed, 4 of them at one mode with 94.3-100 % within 0.15 (at most 86.7 % "
                "within 3 std); with the minimax loss 2 of 5 on either init "
                "(nets-veegan-code-torch-init_loss-minimax_lr-0.001/: 94.8 and 98.8 % within "
                "0.15, at most 57.8 % within 3 std); with the notebook's batch of 500 instead "
                "of 512 (--batch-size 500, batch_size-500_nets-veegan-code_loss-logit_lr-0.001/, "
                "10 seeds) 9 of 10 end at 8 modes and one at one mode as a wide blob (0.3 % "
                "within 3 std, 24.9 % within 0.15; over the 10: 7.3 modes, 67.8 % within 3 std, "
                "85.8 % within 0.15), and with every setting of the notebook's code at once, "
                "its updates in turn too (--update-order alternating, 10 seeds, "
                "batch_size-500_nets-veegan-code_update_order-alternating_loss-logit_lr-0.001/) "
                "all 10 end at 8 modes within 0.15 (87.8 %; 7.8 modes and 53.0 % within 3 std), "
                "after 246 of 500 evaluations at one mode or none, at most 14.4 % within 3 std "
                "at any of them. So one sharp mode within 3 std is a state "
                "these nets and settings do not reach here, one mode within the notebook's "
                "radius is where 3 in 10 runs of the notebook's own GAN end, and why "
                "every run behind the published 1 mode did is not found"
            ),
        }
        | dict.fromkeys(
            [
                ("WGAN-GP (GDPP Table 1)", "modes_covered"),
                ("WGAN-GP (GDPP Table 1)", "hq_fraction"),
            ],
            "measured: the number of critic steps, which the sources do not state, decides "
            "this cell. At the WGAN-GP paper's 5 our runs cover 8.0 modes with 78.0 % hq (5 "
            "seeds); at 1 critic step per generator step (the GDPP script runs one D op per "
            "iteration) they collapse to 1.4 modes and 0.4 % (5 seeds, --set n_critic=1, "
            "n-critic-1/); the published 6.8 modes and 59.6 % lie between the two",
        ),
        "gaussians25": dict.fromkeys(
            [("GAN (VEEGAN Table 1)", "modes_covered"), ("GAN (VEEGAN Table 1)", "hq_fraction")],
            "measured, not the cause: the update order (alternating: 9.2 modes, 2.5 % hq, 5 "
            "seeds) and the generator loss (minimax: 10.0 modes, 3.8 %). Our GAN oscillates "
            "(240 mode-loss events per run; 1 to 24 modes): 38 of its 500 evaluations cover 3 "
            "modes or fewer and 36 % have at most 1 % within 3 std, so the published cell is a "
            "state our runs pass through, not their average",
        )
        | dict.fromkeys(
            [
                ("WGAN-GP (GDPP Table 1)", "modes_covered"),
                ("WGAN-GP (GDPP Table 1)", "hq_fraction"),
            ],
            "measured: the number of critic steps, which the sources do not state, decides "
            "this cell. At the WGAN-GP paper's 5 our runs cover 25.0 modes with 84.8 % hq (5 "
            "seeds); at 1 critic step per generator step (the GDPP script runs one D op per "
            "iteration) 6.0 modes and 1.9 % (5 seeds, --set n_critic=1, n-critic-1/); the "
            "published 24.2 modes and 28.7 % lie between the two",
        )
        | {
            ("Unrolled GAN (VEEGAN Table 1)", "modes_covered"): (
                "measured: the budget, on 3 of 5 seeds. At the source's 25,000 steps our runs "
                "swing between 12 and 25 modes (181 mode-loss events per run; 24 of their 250 "
                "evaluations cover 24 or more), 2.4 modes (2 of our s.e.) below the published "
                "mean. Trained 4 times as long (--preset long, seeds 0-4, the source's 5 "
                "trials) the five end at 23.6 ± 1.2 modes (s.e.), the published 23.6: seeds 1 "
                "and 2 settle at 25 modes (long/unrolled-gan/): from step 59,500 and 68,500 "
                "every evaluation covers all 25 (24.9 on average over their last half); seed 4 "
                "settles late (long/unrolled-gan/seed4/): every evaluation from step 95,500 "
                "covers all 25; seeds 0 and 3 do not (long/unrolled-gan/seed0/ and seed3/): "
                "over their last half they swing between 17 and 25 and between 16 and 24 modes "
                "(21.5 and 21.9 on average) and end at 19 and 24. "
                "Measured on three seeds, not the cause: the "
                "update order (alternating: 20, 23 and 25 modes, against 23, 19 and 25 for the "
                "same seeds simultaneous)"
            ),
            ("Unrolled GAN (VEEGAN Table 1)", "hq_fraction"): (
                "measured: the budget, on 3 of 5 seeds. At the source's 25,000 steps no "
                "evaluation of any run reaches the published 16 % (at most 10.2 %), and two "
                "seeds are still sharpening. Trained 4 times as long (--preset long, seeds 0-4, "
                "the source's 5 trials) the five end at 23.6 ± 15.5 % (s.e.), within 2 s.e. of "
                "the published 16 %: seeds 1 and 2 keep sharpening, quarter by quarter "
                "(long/unrolled-gan/; mean hq 3.4, 14.8, 53.1 and 81.6 % for seed 1; 4.8, 7.3, "
                "11.3 and 15.0 % for seed 2): seed 1 passes 16 % at step 40,000 and ends at "
                "84.5 %, seed 2 ends at 14.9 % (at most 18.3 %); seed 4 starts late, when its D "
                "leaves chance after step 70,000 (long/unrolled-gan/seed4/: 2.1, 2.5, 3.3 and "
                "10.9 % by quarter, at most 17.2 %, ending at 13.6 %); seeds 0 and 3 never "
                "sharpen (long/unrolled-gan/seed0/ and seed3/: 2.2, 2.4, 2.3 and 2.5 % and 2.3, "
                "2.4, 2.4 and 2.5 % by quarter, at most 3.6 and 4.1 %, ending at 2.0 and 2.9 %). "
                "Ours reach the published 16 %, when they do, later than the source's 25,000 "
                "steps, as GDPP's grid runs do, for a reason not found. "
                "Measured on three "
                "seeds, not the cause: the update order (alternating: 3.2, 11.6 and 11.3 %, "
                "against 2.8, 9.4 and 8.2 % for the same seeds simultaneous)"
            ),
        }
        | {
            ("GDPP (GDPP Table 1)", "modes_covered"): (
                "measured: the budget. At the source's 25,000 steps our runs are still "
                "early (10 seeds: 220 mode-loss events per run; 8 of the 10 have their highest "
                "hq at one of their last two evaluations). Trained 4 times as long (--preset "
                "long, long/, 3 seeds) they end at 23, 20 and 25 modes (22.7 ± 1.5 s.e., within 2 "
                "s.e. of 24.8); seed 2 covers 24 or 25 modes at 142 of its 200 evaluations. "
                "Measured, not the cause: the update "
                "order (alternating: 18.3 modes, 3 seeds)"
            ),
            ("GDPP (GDPP Table 1)", "hq_fraction"): (
                "measured: the budget. At the source's 25,000 steps our runs are still "
                "sharpening: 8 of 10 have their highest hq at one of their last two "
                "evaluations, at most 48.1 %, and none of their 500 evaluations reaches 50 %. "
                "Trained 4 times as long (--preset long, long/, 3 seeds), all pass the "
                "published 68.5 % (at 61,500, 48,500 and 46,500 steps) and end at 83.0, 82.9 "
                "and 82.0 % (medians over their last 50 evaluations 78.0, 81.9 and 82.7 %). Why "
                "ours need longer "
                "than the source's 25,000 steps is not found: its script's loss, weights, "
                "optimisers and evaluation are the protocol's. Measured, not the cause: the "
                "update order (alternating: 17.0 % hq, 3 seeds)"
            ),
        },
    },
    open_details=(
        "the ring: GDPP's code places its modes at linspace(0, 2 pi, 8), which repeats one "
        "mode (7 distinct); the tables report 8, so the 8 distinct modes at 2 pi k / 8 are run "
        "(--ring linspace runs the source's ring)",
        "update order: the GDPP code runs G's and D's train ops from one forward pass "
        "(simultaneous), and so does this protocol; `--update-order alternating` runs the "
        "harness's D-then-G order (a different run key)",
        "WGAN-GP's lambda and n_critic are not stated: gan_toy.py's toy lambda 0.1 and the "
        "paper's n_critic 5 with Adam (0.5, 0.9) at the protocol's two learning rates; under "
        "simultaneous updates G steps with D's last critic step",
        "methods with one learning rate and methods whose papers fix their optimiser keep "
        "their own; GAN, Unrolled GAN, GDPP and WGAN-GP take the protocol's 1e-4 / 1e-3",
        "VEEGAN's released notebook (as public copies of it read) trains every net with one "
        "Adam at 1e-3 and scores within a fixed 0.15 (3 std of the grid, 15 of the ring); the "
        "protocol follows GDPP's script (1e-4 / 1e-3, 3 std of each mixture): --set lr=0.001 "
        "and bench evaluate --within 15 measure the other choice. Its nets differ too (G two "
        "ReLU layers of 128, D one, TensorFlow's default Glorot-uniform init): --nets "
        "veegan-code builds them (its 100,000 iterations: --preset long; its batch of 500: "
        "--batch-size 500)",
        "reverse KL (not in the tables) over the nearest-mode histogram of all samples",
        "ALI and VEEGAN need an inverse network: their rows are published only",
    ),
    eval_sizes={"smoke": SMOKE_EVAL},
)
