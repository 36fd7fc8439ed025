// Everything in tessera::optimizers.
#pragma once

#include "tessera/optimizers/adafactor.h"
#include "tessera/optimizers/adagrad.h"
#include "tessera/optimizers/adam.h"
#include "tessera/optimizers/clip_grad.h"
#include "tessera/optimizers/grad_accumulator.h"
#include "tessera/optimizers/lion.h"
#include "tessera/optimizers/muon.h"
#include "tessera/optimizers/optimizer.h"
#include "tessera/optimizers/schedulers.h"
#include "tessera/optimizers/sgd.h"
