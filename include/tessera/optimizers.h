// tessera::optimizers (follows MLX's mlx.optimizers): optimizers over flat nn::Params, learning-rate
// schedules, gradient clipping and accumulation.
//
//   optimizers::AdamW opt(optimizers::join_schedules(
//       {optimizers::linear_schedule(0.0f, 3e-4f, 100), optimizers::cosine_decay(3e-4f, 10000)}, {100}));
//   auto [loss, grads] = step({x, y});                    // nn::value_and_grad(model, loss_fn)
//   auto [clipped, norm] = optimizers::clip_grad_norm(grads, 1.0f);
//   opt.update(model, clipped);                           // new parameters and state, one eval
//   opt.save_state("ckpt/optimizer.safetensors");          // or opt.state() into a checkpoint
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
