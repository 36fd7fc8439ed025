// tessera::train: checkpoints (one directory per checkpoint, written atomically, verified on load)
// and a Trainer that runs steps, mixed precision included, saves checkpoints and resumes from them
// with results identical to an uninterrupted run. See tessera/train/trainer.h for an example.
#pragma once

#include "tessera/train/checkpoint.h"
#include "tessera/train/trainer.h"
