#include "gate/diff/confirm.h"

namespace fwgate::traffic {

Result<KernelVerdict> RunExample(const nft::LoadResult&, Path, const Packet&,
                                 const ConfirmOptions&) {
  return Error::Unavailable("not yet");
}

Status ConfirmRegions(const nft::LoadResult*, const nft::LoadResult&, TrafficDiff&,
                      const ConfirmOptions&) {
  return Error::Unavailable("not yet");
}

}  // namespace fwgate::traffic
