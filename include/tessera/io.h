// Reading and writing arrays (follows MLX's io.h). Loading safetensors memory-maps the file;
// every save writes a temporary file in the target's directory, fsyncs it and renames it over the
// target, so readers never see a partial file and a failed save leaves the old file intact.
//
// Malformed or truncated files raise std::runtime_error naming the file and the byte offset, e.g.
// "[load_safetensors] m.safetensors: tensor 'w' data range [100, 4196) exceeds ... at byte offset 8";
// wrong arguments (an unsupported extension, a reserved name) raise std::invalid_argument.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>

#include "tessera/array.h"

namespace tessera {

using SafetensorsLoad = std::pair<std::unordered_map<std::string, array>, std::unordered_map<std::string, std::string>>;

// .npy files. `save` appends ".npy" when missing and writes format 1.0 (2.0 for huge headers);
// C- and Fortran-ordered arrays are written without a copy. NumPy has no bfloat16: it is written
// with the type string '<V2' (2-byte void, as MLX reports its kind) and '<V2' reads back as
// bfloat16. `load` reads only ".npy" files (format 1.0-3.0; little- and big-endian data, the latter
// converted; Fortran order comes back as a transposed view of the file's data). Other extensions
// are rejected: use loadz for .npz and load_safetensors for .safetensors.
void save(const std::string& file, array a);
array load(const std::string& file, StreamOrDevice s = {});

// .npz archives (NumPy's savez / savez_compressed): one "<name>.npy" member per array, stored or
// deflated, ZIP64 where sizes need it, CRC-32 checked on load. ".npz" is appended when missing.
// loadz skips members that are not .npy files.
void savez(const std::string& file, const std::unordered_map<std::string, array>& arrays, bool compressed = false);
std::unordered_map<std::string, array> loadz(const std::string& file, StreamOrDevice s = {});

// safetensors. Loading maps the file privately (copy-on-write) and returns arrays over the mapping
// without copying; the mapping goes away with the last array that uses it. Tensors whose offset is
// misaligned for their type are copied. Supported dtypes: BOOL, U8, I8, U16, I16, U32, I32, U64,
// I64, F16, BF16, F32, F64, C64. The header may be at most 100 MB; overlapping tensors, duplicate
// names and non-string metadata are rejected. Saving appends ".safetensors" when missing, writes
// tensors in name order and pads the header with spaces to an 8-byte boundary; "__metadata__" is
// written only when `metadata` is not empty.
SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s = {});
void save_safetensors(std::string file, std::unordered_map<std::string, array>,
                      std::unordered_map<std::string, std::string> metadata = {});

}  // namespace tessera
