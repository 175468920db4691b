# pragma version 0.4.3
"""
@title Ledger anchor of the CSD interoperability hub
@notice Stores the Merkle root of each sealed ledger block once, by height. Only the hub's account may
        anchor; a height or a root anchored before is refused. Every anchor emits an event.
"""

event Anchored:
    height: indexed(uint256)
    merkle_root: indexed(bytes32)
    block_hash: bytes32

hub: public(immutable(address))
root_at: public(HashMap[uint256, bytes32])
height_of: public(HashMap[bytes32, uint256])
block_hash_at: public(HashMap[uint256, bytes32])
count: public(uint256)


@deploy
def __init__():
    hub = msg.sender


@external
def anchor(height: uint256, merkle_root: bytes32, block_hash: bytes32):
    assert msg.sender == hub, "only the hub anchors"
    assert height > 0, "heights start at 1"
    assert merkle_root != empty(bytes32), "empty root"
    assert self.root_at[height] == empty(bytes32), "height already anchored"
    assert self.height_of[merkle_root] == 0, "root already anchored"
    self.root_at[height] = merkle_root
    self.height_of[merkle_root] = height
    self.block_hash_at[height] = block_hash
    self.count += 1
    log Anchored(height=height, merkle_root=merkle_root, block_hash=block_hash)
