// The local store: atomic placement, deduplication, tenants apart, spool clean-up,
// and image variants of the right sizes and formats.
#include "blob_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "file_ids.h"
#include "image_variants.h"

namespace cloudillo::blob {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/blob-store-test-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

std::string IdOf(std::string_view bytes) {
  Sha256Stream h;
  h.Update(bytes);
  return ContentId('b', h.Finish());
}

TEST_F(StoreTest, PutThenReadWholeAndPart) {
  auto store = OpenLocalStore(root_);
  ASSERT_TRUE(store.ok());
  auto spool = SpoolFile::Create((*store)->spool_dir());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE((*spool)->Append("hello ").ok());
  ASSERT_TRUE((*spool)->Append("world").ok());
  std::string id = IdOf("hello world");
  ASSERT_TRUE((*store)->Put(7, id, **spool).ok());
  spool->reset();  // adopted: not removed
  auto r = (*store)->Open(7, id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), 11u);
  EXPECT_EQ(*(*r)->Read(0, 100), "hello world");
  EXPECT_EQ(*(*r)->Read(6, 3), "wor");
  EXPECT_EQ(*(*r)->Read(11, 3), "");
}

TEST_F(StoreTest, TenantsAreApartAndDuplicatesStoredOnce) {
  auto store = OpenLocalStore(root_);
  ASSERT_TRUE(store.ok());
  std::string id = IdOf("x");
  for (int i = 0; i < 2; ++i) {
    auto spool = SpoolFile::Create((*store)->spool_dir());
    ASSERT_TRUE((*spool)->Append("x").ok());
    ASSERT_TRUE((*store)->Put(1, id, **spool).ok());
  }
  EXPECT_EQ((*store)->Open(2, id).status().code(), absl::StatusCode::kNotFound);
  // The second Put found the bytes there and dropped its spool file.
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
  ASSERT_TRUE((*store)->Remove(1, id).ok());
  EXPECT_EQ((*store)->Open(1, id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*store)->Remove(1, id).ok());  // already absent
}

TEST_F(StoreTest, UnfinishedSpoolFilesVanish) {
  {
    auto store = OpenLocalStore(root_);
    auto spool = SpoolFile::Create((*store)->spool_dir());
    ASSERT_TRUE((*spool)->Append("partial").ok());
  }  // an upload that never finished
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
  // One left behind by a process that died: removed at the next start.
  std::ofstream(root_ + "/tmp/up-leftover") << "half";
  auto store = OpenLocalStore(root_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
}

// A spool file that becomes a blob is flushed while it grows, one flush at a time, and
// Sync() (so Put) waits for a flush still running instead of overtaking it.
TEST_F(StoreTest, LargeSpoolFilesAreFlushedWhileTheyGrow) {
  auto store = OpenLocalStore(root_);
  ASSERT_TRUE(store.ok());
  std::mutex mu;
  std::vector<std::function<void()>> jobs;
  auto spool = SpoolFile::Create((*store)->spool_dir(), [&](std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu);
    jobs.push_back(std::move(job));
    return true;
  });
  ASSERT_TRUE(spool.ok());
  std::string mib(1 << 20, 'a');
  Sha256Stream whole;
  auto append = [&](int i) {
    mib[0] = char(i);
    whole.Update(mib);
    return (*spool)->Append(mib);
  };
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(append(i).ok());
  ASSERT_EQ(jobs.size(), 1u);  // started at 16 MiB; none beside it while it has not run
  jobs[0]();
  ASSERT_TRUE(append(40).ok());
  ASSERT_EQ(jobs.size(), 2u);  // the next window's append starts the next one
  std::atomic<bool> ran{false};
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ran = true;
    jobs[1]();
  });
  std::string id = ContentId('b', whole.Finish());
  ASSERT_TRUE((*store)->Put(3, id, **spool).ok());
  EXPECT_TRUE(ran);  // Put's fsync waited for the running flush
  later.join();
  auto r = (*store)->Open(3, id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->size(), 41u << 20);
  Sha256Stream back;
  for (uint64_t off = 0; off < (*r)->size(); off += 1 << 20) back.Update(*(*r)->Read(off, 1 << 20));
  EXPECT_EQ(ContentId('b', back.Finish()), id);

  // A runner that takes no job leaves the file unflushed until Sync, and whole.
  auto refused = SpoolFile::Create((*store)->spool_dir(), [](std::function<void()>) { return false; });
  ASSERT_TRUE(refused.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*refused)->Append(mib).ok());
  EXPECT_TRUE((*refused)->Sync().ok());
  EXPECT_EQ((*refused)->size(), 20u << 20);
}

TEST_F(StoreTest, ImageVariantsHaveTheTierSizesAndFormats) {
  ASSERT_TRUE(InitImaging());
  // A 2000x1000 test image, written by libvips itself.
  VipsImage* img = nullptr;
  ASSERT_EQ(vips_black(&img, 2000, 1000, "bands", 3, nullptr), 0);
  std::string path = root_ + "/src.png";
  ASSERT_EQ(vips_pngsave(img, path.c_str(), nullptr), 0);
  g_object_unref(img);
  auto info = ProbeImage(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->width, 2000);
  EXPECT_EQ(info->height, 1000);
  const std::vector<ImageTier> tiers = {
      {"vis.tn", 256, "webp"}, {"vis.sd", 720, "webp"}, {"vis.hd", 1920, "webp"}, {"vis.xd", 3840, "webp"}};
  auto out = RenderVariants(path, *info, tiers, root_);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 3u);  // xd is not below the original
  EXPECT_EQ((*out)[0].width, 256);
  EXPECT_EQ((*out)[0].height, 128);
  EXPECT_EQ((*out)[1].width, 720);
  EXPECT_EQ((*out)[2].width, 1920);
  for (const auto& v : *out) {
    EXPECT_EQ(v.format, "webp");
    EXPECT_TRUE(IsContentId(v.blob_id, 'b'));
    std::ifstream f(v.file->path(), std::ios::binary);
    std::string head(12, '\0');
    f.read(head.data(), 12);
    EXPECT_EQ(head.substr(0, 4), "RIFF");
    EXPECT_EQ(head.substr(8, 4), "WEBP");
  }
  // Not an image at all.
  std::ofstream(root_ + "/junk.png") << "not a png";
  EXPECT_EQ(ProbeImage(root_ + "/junk.png").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cloudillo::blob
