// Tessera: lazy arrays, composable transforms and a fast CPU backend with an MLX-compatible API.
// Porting MLX C++ code: include this header and add `namespace mlx { namespace core = ::tessera; }`.
#pragma once

#include "tessera/array.h"
#include "tessera/compile.h"
#include "tessera/device.h"
#include "tessera/dtype.h"
#include "tessera/fast.h"
#include "tessera/graph_utils.h"
#include "tessera/io.h"
#include "tessera/memory.h"
#include "tessera/ops.h"
#include "tessera/random.h"
#include "tessera/transforms.h"
#include "tessera/version.h"
