// Learning-rate schedules (MLX's optimizers.schedulers). Each returns a Schedule: a function of
// the 0-based update index giving a float32 scalar, usable wherever a learning rate is taken.
// Values are computed on the host in double precision.
#pragma once

#include <vector>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// init · decay_rateˢᵗᵉᵖ.
Schedule exponential_decay(float init, float decay_rate);
// init · decay_rate^⌊step / step_size⌋.
Schedule step_decay(float init, float decay_rate, int step_size);
// end + (init − end) · ½(1 + cos(π · min(step, decay_steps) / decay_steps)): init at step 0,
// end from decay_steps on.
Schedule cosine_decay(float init, int decay_steps, float end = 0.0f);
// init + (end − init) · min(step, steps) / steps: a linear warmup (or decay) held at `end`.
Schedule linear_schedule(float init, float end, int steps);
// schedules[0] before boundaries[0], then schedules[i] from boundaries[i−1] on, called with the
// step counted from its boundary. Needs boundaries.size() == schedules.size() − 1, increasing.
Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries);

}  // namespace tessera::optimizers
