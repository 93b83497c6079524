// The blob service's Prometheus families. Every label set is closed (no tenant, no
// path, no id): upload results, download kinds, variant tiers.
//
//   cloudillo_blob_uploads_total{result}         stored | existed | refused | failed | aborted
//   cloudillo_blob_upload_bytes_total            body bytes received (every upload)
//   cloudillo_blob_stored_bytes_total            bytes written to the store (new blobs only)
//   cloudillo_blob_downloads_total{kind}         full | partial | head | unsatisfiable | not_modified
//   cloudillo_blob_download_bytes_total          body bytes sent
//   cloudillo_blob_variant_seconds               time to render one image variant
//   cloudillo_blob_gc_removed_total              blobs removed by garbage collection
//   cloudillo_blob_remote_fetches_total{result}  stored | existed | refused | failed (§4.6)
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace cloudillo::blob {

class BlobMetrics {
 public:
  explicit BlobMetrics(prometheus::Registry& r)
      : uploads_(prometheus::BuildCounter()
                     .Name("cloudillo_blob_uploads_total")
                     .Help("Uploads by result")
                     .Register(r)),
        downloads_(prometheus::BuildCounter()
                       .Name("cloudillo_blob_downloads_total")
                       .Help("Downloads by kind")
                       .Register(r)),
        remote_(prometheus::BuildCounter()
                    .Name("cloudillo_blob_remote_fetches_total")
                    .Help("Remote files fetched (PROTOCOL 4.6) by result")
                    .Register(r)),
        stored(uploads_.Add({{"result", "stored"}})),
        existed(uploads_.Add({{"result", "existed"}})),
        refused(uploads_.Add({{"result", "refused"}})),
        failed(uploads_.Add({{"result", "failed"}})),
        aborted(uploads_.Add({{"result", "aborted"}})),
        full(downloads_.Add({{"kind", "full"}})),
        partial(downloads_.Add({{"kind", "partial"}})),
        head(downloads_.Add({{"kind", "head"}})),
        unsatisfiable(downloads_.Add({{"kind", "unsatisfiable"}})),
        not_modified(downloads_.Add({{"kind", "not_modified"}})),
        remote_stored(remote_.Add({{"result", "stored"}})),
        remote_existed(remote_.Add({{"result", "existed"}})),
        remote_refused(remote_.Add({{"result", "refused"}})),
        remote_failed(remote_.Add({{"result", "failed"}})),
        upload_bytes(prometheus::BuildCounter()
                         .Name("cloudillo_blob_upload_bytes_total")
                         .Help("Upload body bytes received")
                         .Register(r)
                         .Add({})),
        stored_bytes(prometheus::BuildCounter()
                         .Name("cloudillo_blob_stored_bytes_total")
                         .Help("Bytes of new blobs written to the store")
                         .Register(r)
                         .Add({})),
        download_bytes(prometheus::BuildCounter()
                           .Name("cloudillo_blob_download_bytes_total")
                           .Help("Download body bytes sent")
                           .Register(r)
                           .Add({})),
        variant_seconds(
            prometheus::BuildHistogram()
                .Name("cloudillo_blob_variant_seconds")
                .Help("Time to render the variants of one image")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
        gc_removed(prometheus::BuildCounter()
                       .Name("cloudillo_blob_gc_removed_total")
                       .Help("Unreferenced blobs removed")
                       .Register(r)
                       .Add({})) {}

 private:
  prometheus::Family<prometheus::Counter>& uploads_;
  prometheus::Family<prometheus::Counter>& downloads_;
  prometheus::Family<prometheus::Counter>& remote_;

 public:
  prometheus::Counter &stored, &existed, &refused, &failed, &aborted;
  prometheus::Counter &full, &partial, &head, &unsatisfiable, &not_modified;
  prometheus::Counter &remote_stored, &remote_existed, &remote_refused, &remote_failed;
  prometheus::Counter& upload_bytes;
  prometheus::Counter& stored_bytes;
  prometheus::Counter& download_bytes;
  prometheus::Histogram& variant_seconds;
  prometheus::Counter& gc_removed;
};

}  // namespace cloudillo::blob
