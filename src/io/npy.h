// The .npy encoder and decoder, shared by save/load and by the .npz archive code.
#pragma once

#include <string>

#include "io/file_io.h"

namespace tessera::io {

// An array ready to be written: its dense data and the .npy preamble (magic, version, header).
struct NpyPrepared {
  array data;
  std::string preamble;
  uint64_t total_size() const { return preamble.size() + data.nbytes(); }
};

// Evaluates `a`; C- and Fortran-ordered arrays are written as they are, others are copied.
NpyPrepared prepare_npy(const array& a);
void write_npy(ByteSink& sink, const NpyPrepared& p);

// Decodes one .npy stream. Every failure names the file and the byte offset.
array read_npy(ByteSource& src);

}  // namespace tessera::io
