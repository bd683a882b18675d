#pragma once
// Editing HDF5 files behind the store's back, for the tests of files that lie (test_store_malformed,
// test_sweep_file_malformed): open with the C API, change an attribute, add a dataset of any shape.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

namespace attnscope::test {

/// Opens the file with the C API, lets edit change it, and closes it again.
inline void editFile(const std::string& path, const std::function<void(hid_t file)>& edit) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  edit(file);
  ASSERT_GE(H5Fclose(file), 0);
}

inline void setIntAttr(hid_t file, const char* object, const char* name, int64_t value) {
  // Through the group: H5Aopen_by_name's attribute fails to write here (HDF5 1.10.8 "can't locate open
  // attribute").
  hid_t group = H5Oopen(file, object, H5P_DEFAULT);
  hid_t attr = H5Aopen(group, name, H5P_DEFAULT);
  EXPECT_GE(H5Awrite(attr, H5T_NATIVE_INT64, &value), 0);
  H5Aclose(attr);
  H5Oclose(group);
}

/// Adds a dataset of the given shape and type at path; chunked with nothing written, so even [2, 2, 2^31]
/// costs nothing on disk.
inline void addDataset(hid_t file, const std::string& path, const std::vector<hsize_t>& dims,
                       hid_t type = H5T_IEEE_F32LE) {
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  std::vector<hsize_t> chunk(dims.size(), 1);
  chunk.back() = std::max<hsize_t>(1, std::min<hsize_t>(dims.back(), 4096));
  ASSERT_GE(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), 0);
  hid_t dataset = H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  H5Dclose(dataset);
  H5Pclose(dcpl);
  H5Sclose(space);
}

}  // namespace attnscope::test
