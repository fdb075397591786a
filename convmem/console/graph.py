"""The merge history of a profile laid out as a graph for an inline SVG (pure: no I/O).

Each profile of the ledger is a box; the profile shown is the rightmost, and a profile merged
into another sits one column to its left, so merges flow left to right into the survivor. An
unmerge or a split is drawn back out, dashed. Every edge is labelled with the identifier that
caused it and when. The page draws it (``templates/_merge_graph.html``) beside a table of the
same ledger, the graph's text alternative.
"""

from dataclasses import dataclass
from datetime import datetime

from convmem.profiles.service import MergeRecord

NODE_WIDTH = 230
NODE_HEIGHT = 40
COLUMN_GAP = 170
ROW_GAP = 34
MARGIN = 12
# A merge joins the boxes a third of the way down, an unmerge or split two thirds down, so a
# merge and its undoing never share a line, nor their numbered badges a place.
MERGE_JOIN = NODE_HEIGHT // 3
UNDO_JOIN = 2 * NODE_HEIGHT // 3
BADGE_ALONG = 0.4


@dataclass(frozen=True)
class Node:
    sid: str
    x: int
    y: int
    current: bool


@dataclass(frozen=True)
class Edge:
    """One decision of the ledger; ``number`` is its row in the ledger's table, which the
    graph shows on the edge (the label, long, is the edge's tooltip)."""

    number: int
    kind: str
    x1: int
    y1: int
    x2: int
    y2: int
    label: str
    when: str

    @property
    def badge(self) -> tuple[int, int]:
        """Where the number sits: 40 % of the way from the edge's start. A merge starts at the
        merged profile and its undoing at the survivor, so their numbers never overlap."""
        return round(self.x1 + BADGE_ALONG * (self.x2 - self.x1)), round(self.y1 + BADGE_ALONG * (self.y2 - self.y1))


@dataclass(frozen=True)
class MergeGraph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def layout(profile_sid: str, ledger: list[MergeRecord]) -> MergeGraph:
    depth = {profile_sid: 0}
    order = [profile_sid]
    # The ledger is oldest first; walking it newest first places every survivor before
    # the profiles merged into it.
    for record in reversed(ledger):
        for sid, parent in ((record.into_sid, None), (record.merged_sid, record.into_sid)):
            if sid in depth:
                continue
            depth[sid] = depth.get(parent, 0) + 1 if parent else 0
            order.append(sid)
    columns = max(depth.values()) + 1
    # Rows: the profile shown first, then the others in the order met; each box its own row.
    position = {}
    for row, sid in enumerate(order):
        x = MARGIN + (columns - 1 - depth[sid]) * (NODE_WIDTH + COLUMN_GAP)
        y = MARGIN + row * (NODE_HEIGHT + ROW_GAP) + ROW_GAP // 2
        position[sid] = (x, y)
    nodes = [Node(sid, *position[sid], current=sid == profile_sid) for sid in order]
    edges = []
    for number, record in enumerate(ledger, start=1):
        mx, my = position[record.merged_sid]
        sx, sy = position[record.into_sid]
        label = f"{record.id_type} {record.value}" if record.value else record.source
        when = _when(record.merged_at)
        if record.kind == "merge":
            # From the merged box's right side into the survivor's left side.
            edges.append(Edge(number, "merge", mx + NODE_WIDTH, my + MERGE_JOIN, sx, sy + MERGE_JOIN, label, when))
        else:
            # Back out of the survivor into the profile that came back or was split off.
            edges.append(Edge(number, record.kind, sx, sy + UNDO_JOIN, mx + NODE_WIDTH, my + UNDO_JOIN, label, when))
    width = columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP + 2 * MARGIN
    height = len(order) * (NODE_HEIGHT + ROW_GAP) + 2 * MARGIN
    return MergeGraph(nodes, edges, width, height)
