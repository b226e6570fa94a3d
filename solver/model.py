"""The SPEC §3 mixed-integer model as arrays, shared by every backend.

:func:`build_model` turns :class:`~solver.problem.ProblemData` into a
:class:`MatrixModel`: columns (bounds, objective), rows in CSR form with their
bounds, and for each row the constraint-group instance of SPEC §4 it belongs
to. The backends only translate this matrix into their native API, so they
cannot disagree on semantics, and the conflict finder switches groups on and
off by row.

The builder reads like the SPEC: one method per section, called in order from
:meth:`ModelBuilder.build`. Everything is built with numpy index arithmetic;
no Python loop runs per non-zero.

Exact reformulations are used (they do not change the feasible set of
``x``, ``a``, ``t`` or the objective):

* §3.7 balance has three equivalent forms (``balance_form``):

  - ``"sites"`` (the default up to :data:`SITES_BALANCE_MAX_TERMS`): binary auxiliaries
    ``B[s,y]`` ("built by the end of y", SPEC §3) defined by the always-on rows
    ``B[s,y] - B[s,y-1] - Σ_o x[s,o,y] = 0``; balance row ``(r, y)`` is
    ``Σ_{s in r} c_s·B[s,y] - coef_all·Σ_{s not in r} w(s)·B[s,y] >= rhs`` with one term
    per site, and the solver can branch on "built by y". Outside the conflict finder's
    relaxed model, the coefficient of an own-region site is **tightened** to
    ``cap = rhs + coef_all·U(r,y)``, where ``U(r,y)`` bounds the weight the other regions can
    have built by ``y`` under the quota maximums, the region's own quota minimums and the
    windows: once such a site is built the row holds whatever the others do, so the integer
    points are unchanged while the LP relaxation gets tighter (``docs/decisions.md``).
    Integer counts ``N[r,y] = Σ_{s in r} B[s,y]`` come with it, with the region-year quotas
    written over them again (``min <= N[r,y] - N[r,y-1] <= max``): the solver branches and
    cuts on "region r has built at most k sites by y" (national-20x10 from its optimum: 3 nodes
    instead of 1,000-4,000).
  - ``"regions"``: general integers ``S[r,y] = Σ_{s in r} w(s)·B[s,y]`` defined by
    ``S[r,y] - S[r,y-1] - Σ_{s in r, o} w(s)·x[s,o,y] = 0``; one term per region
    (CP-SAT, CBC, the conflict finder, and models too large for ``"sites"``).
  - ``"dense"``: the rows over ``x`` as SPEC §3.7 reads.
* The integer hulls of §3.4 and §3.3 per region and year give implied rows
  (``technician_hull``, ``crew_hull``; form ``"sites"``, models of :data:`HULL_MIN_X` ``x``
  columns or more); they are kept aside in ``MatrixModel.candidates`` and HiGHS adds those its
  LP violates (``solver.cuts``).
* Interchangeable crew pools (the same reach and distances to every site) share their ``a``
  columns: one per class, site and year, bounded by the class's crews
  (``ProblemData.class_available``); plans split them back to the real pools
  (``solver.solve.extract_plan``).
* Variables exist only where they can be non-zero: ``x`` inside windows (in
  *relaxed* mode, used by the conflict finder, everywhere in the horizon, with
  the window as fixings owned by the ``window`` group), ``a`` where the pool
  reaches the site, has crews that year and the site can need crews, ``t``
  where its bound is positive and the trainees can still staff a factory
  within the horizon.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from solver.problem import UNBOUNDED, ProblemData

INF = float("inf")
DEFINITION = -1  # row group of auxiliary-variable definitions: always on
#: ``balance_form="sites"`` up to this many balance terms (regions × sites × years), the
#: auxiliaries S[r,y] beyond. Measured on national-20x10 (HiGHS, 2 threads, warm-started from
#: the optimum): proof in 48-115 s over four seeds with "sites" against 114-148 s with
#: "dense", the previous default; gen-3000 (1.8 M terms) keeps "regions" (benchmarks/RESULTS.md).
SITES_BALANCE_MAX_TERMS = 1_000_000
BALANCE_FORMS = ("sites", "regions", "dense")
#: The hull rows (:meth:`ModelBuilder.technician_hull`, :meth:`ModelBuilder.crew_hull`) are
#: made for a region and year only when it has at most this many vectors of option counts to
#: enumerate,
HULL_MAX_COUNTS = 20_000
#: and only for models with at least this many ``x`` columns: smaller ones solve in well under
#: a second, where importing scipy's Qhull (~0.3 s) would cost more than the rows can save.
HULL_MIN_X = 1_000


@dataclass(frozen=True)
class CandidateRows:
    """Implied rows ``value·v <= rhs`` (CSR over the model's columns) kept out of the model;
    :meth:`MatrixModel.with_candidates` appends the chosen ones."""

    row_start: np.ndarray
    row_index: np.ndarray
    row_value: np.ndarray
    rhs: np.ndarray
    group: np.ndarray

    @property
    def count(self) -> int:
        return len(self.rhs)

    @classmethod
    def from_rows(cls, rows: list[tuple[np.ndarray, np.ndarray, int, int]]) -> CandidateRows | None:
        """Rows given as ``(columns, values, rhs, group)``; None for none."""
        if not rows:
            return None
        lengths = np.array([len(c) for c, _, _, _ in rows], dtype=np.int64)
        row_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=row_start[1:])
        return cls(
            row_start,
            np.concatenate([c for c, _, _, _ in rows]).astype(np.int64),
            np.concatenate([v for _, v, _, _ in rows]).astype(np.float64),
            np.array([h for _, _, h, _ in rows], dtype=np.float64),
            np.array([g for _, _, _, g in rows], dtype=np.int64),
        )

    def take(self, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows ``picked`` (indices) as CSR: row starts (``len(picked) + 1``), columns,
        values."""
        lengths = np.diff(self.row_start)[picked]
        entries = np.repeat(self.row_start[picked], lengths) + _ragged_arange(lengths)
        starts = np.zeros(len(picked) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return starts, self.row_index[entries], self.row_value[entries]

    def activity(self, values: np.ndarray) -> np.ndarray:
        """Each row's left side at ``values``."""
        row = np.repeat(np.arange(self.count), np.diff(self.row_start))
        return np.bincount(
            row, weights=self.row_value * values[self.row_index], minlength=self.count
        )


@dataclass(frozen=True)
class GroupKey:
    """A constraint-group instance of SPEC §4, e.g. ``quota.region_year`` / R02 / 2035."""

    group: str
    key: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, **dict(self.key)}

    def sort_key(self) -> tuple[Any, ...]:
        return (self.group, tuple(str(v) if isinstance(v, str) else v for _, v in self.key))


@dataclass
class MatrixModel:
    """A maximisation MILP in arrays: ``max obj·v + obj_const`` s.t. ``row_lb <= A v <= row_ub``."""

    data: ProblemData
    relaxed: bool
    col_lb: np.ndarray
    col_ub: np.ndarray
    obj: np.ndarray
    obj_const: int
    x_site: np.ndarray
    x_option: np.ndarray
    x_year: np.ndarray  # offsets from horizon.start
    a_offset: int
    a_pool: np.ndarray
    a_site: np.ndarray
    a_year: np.ndarray
    t_offset: int
    t_region: np.ndarray
    t_year: np.ndarray
    aux_offset: int
    num_aux: int
    balance_form: str | None
    b_site: np.ndarray  # B[s,y] auxiliaries of balance_form "sites" (empty otherwise)
    b_year: np.ndarray
    n_region: np.ndarray  # N[r,y] counts of balance_form "sites", after B (empty otherwise)
    n_year: np.ndarray
    row_start: np.ndarray
    row_index: np.ndarray
    row_value: np.ndarray
    row_lb: np.ndarray
    row_ub: np.ndarray
    row_group: np.ndarray
    groups: list[GroupKey]
    window_fixings: dict[int, np.ndarray] = field(default_factory=dict)
    candidates: CandidateRows | None = None  # implied rows not in the model (the hulls)
    #: An upper bound on the optimum from an LP relaxation solved on the way (``solver.cuts``).
    lp_bound: float | None = None

    @property
    def num_cols(self) -> int:
        return len(self.col_lb)

    @property
    def num_rows(self) -> int:
        return len(self.row_lb)

    @property
    def num_nonzeros(self) -> int:
        return len(self.row_index)

    @property
    def num_x(self) -> int:
        return len(self.x_site)

    def size(self) -> dict[str, int]:
        return {
            "variables": self.num_cols,
            "constraints": self.num_rows,
            "nonzeros": self.num_nonzeros,
        }

    def integer_columns(self, continuous_flows: bool = False) -> np.ndarray:
        """Which columns are integer: all of them, or (``continuous_flows``) all but the crews
        ``a`` and trainees ``t``, which are integral anyway once ``x`` is (``solver.flows``)."""
        mask = np.ones(self.num_cols, dtype=bool)
        if continuous_flows:
            mask[self.a_offset : self.aux_offset] = False
        return mask

    def with_candidates(self, chosen: np.ndarray) -> MatrixModel:
        """This model with the candidate rows in ``chosen`` (a boolean mask) appended."""
        cand = self.candidates
        if cand is None or not chosen.any():
            return self
        picked = np.flatnonzero(chosen)
        starts, index, value = cand.take(picked)
        return replace(
            self,
            row_start=np.concatenate([self.row_start, self.row_start[-1] + starts[1:]]),
            row_index=np.concatenate([self.row_index, index]),
            row_value=np.concatenate([self.row_value, value]),
            row_lb=np.concatenate([self.row_lb, np.full(len(picked), -INF)]),
            row_ub=np.concatenate([self.row_ub, cand.rhs[picked]]),
            row_group=np.concatenate([self.row_group, cand.group[picked]]),
        )

    def objective_of(self, values: np.ndarray) -> float:
        """``Z`` of column values (the objective's constant included)."""
        return float(self.obj @ values) + self.obj_const

    def restrict_x(self, keep_x: np.ndarray) -> tuple[MatrixModel, np.ndarray]:
        """The model with only the ``x`` columns in ``keep_x`` (a boolean mask over ``x``): the
        crews of sites left without a build that year go too; ``t`` and auxiliaries stay.

        Every plan of the restricted model is a plan of this one (the dropped columns at 0).
        Returns it and ``cols``, the column of this model behind each of its columns.
        """
        a_key = self.a_site * self.data.num_years + self.a_year
        x_key = self.x_site[keep_x] * self.data.num_years + self.x_year[keep_x]
        keep_a = np.isin(a_key, x_key)
        keep = np.concatenate([keep_x, keep_a, np.ones(self.num_cols - self.t_offset, dtype=bool)])
        cols = np.flatnonzero(keep)
        new_index = np.full(self.num_cols, -1, dtype=np.int64)
        new_index[cols] = np.arange(len(cols))
        entry_kept = keep[self.row_index]
        row_of = np.repeat(np.arange(self.num_rows), np.diff(self.row_start))
        row_start = np.zeros(self.num_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of[entry_kept], minlength=self.num_rows), out=row_start[1:])
        num_x, num_a = int(keep_x.sum()), int(keep_a.sum())
        restricted = replace(
            self,
            col_lb=self.col_lb[cols],
            col_ub=self.col_ub[cols],
            obj=self.obj[cols],
            x_site=self.x_site[keep_x],
            x_option=self.x_option[keep_x],
            x_year=self.x_year[keep_x],
            a_offset=num_x,
            a_pool=self.a_pool[keep_a],
            a_site=self.a_site[keep_a],
            a_year=self.a_year[keep_a],
            t_offset=num_x + num_a,
            aux_offset=num_x + num_a + (self.aux_offset - self.t_offset),
            row_start=row_start,
            row_index=new_index[self.row_index[entry_kept]],
            row_value=self.row_value[entry_kept],
            window_fixings={},
            candidates=None,
        )
        return restricted, cols

    def violated_empty_rows(self, active: np.ndarray | None = None) -> np.ndarray:
        """Rows without terms whose bounds exclude 0: infeasible before any solver runs."""
        empty = np.diff(self.row_start) == 0
        bad = empty & ((self.row_lb > 0) | (self.row_ub < 0))
        if active is not None:
            bad &= active
        return np.flatnonzero(bad)

    def x_columns_of(self, site: int) -> np.ndarray:
        # x columns are created site by site, so a site's columns are contiguous.
        lo, hi = np.searchsorted(self.x_site, [site, site + 1])
        return np.arange(lo, hi)

    def hint_from_builds(self, builds: list[tuple[int, int, int]]) -> dict[int, int]:
        """A partial assignment of ``x`` reproducing ``(site, option, year)`` builds where the
        model allows them: each named site's columns 0, its build's column 1."""
        lookup = x_lookup(self.x_site, self.x_option, self.x_year)
        hint: dict[int, int] = {}
        for s, o, year in builds:
            for col in self.x_columns_of(s):
                hint[int(col)] = 0
            col = lookup.get((s, o, year - self.data.start))
            if col is not None:
                hint[col] = 1
        return hint

    def complete_hint(self, hint: dict[int, int]) -> dict[int, int]:
        """``hint`` with the ``B[s,y]`` auxiliaries (form ``"sites"``) of every site whose
        ``x`` columns it sets all of, and the counts ``N[r,y]`` of every region whose sites
        it sets all of, so a solver gets them as the rows define them."""
        if self.balance_form != "sites" or not hint:
            return hint
        cols = np.fromiter(hint.keys(), dtype=np.int64, count=len(hint))
        vals = np.fromiter(hint.values(), dtype=np.float64, count=len(hint))
        on_x = cols < self.num_x
        known = np.zeros(self.num_x, dtype=bool)
        known[cols[on_x]] = True
        value = np.zeros(self.num_x)
        value[cols[on_x]] = vals[on_x]
        num_sites, num_y = self.data.num_sites, self.data.num_years
        complete = np.bincount(self.x_site[~known], minlength=num_sites) == 0
        built = np.zeros((num_sites, num_y))
        np.add.at(built, (self.x_site, self.x_year), value)
        built = np.cumsum(built, axis=1)
        ok = complete[self.b_site]
        out = dict(hint)
        aux = self.aux_offset + np.flatnonzero(ok)
        out.update(
            zip(
                aux.tolist(),
                np.rint(built[self.b_site[ok], self.b_year[ok]]).astype(int).tolist(),
                strict=True,
            )
        )
        # N[r,y] of the regions whose B columns are all known.
        region_b = self.data.site2region[self.b_site]
        region_ok = np.bincount(region_b[~ok], minlength=self.data.num_regions) == 0
        counts = np.zeros((self.data.num_regions, num_y))
        np.add.at(counts, (region_b, self.b_year), built[self.b_site, self.b_year])
        n_ok = np.flatnonzero(region_ok[self.n_region])
        out.update(
            zip(
                (self.aux_offset + len(self.b_site) + n_ok).tolist(),
                np.rint(counts[self.n_region[n_ok], self.n_year[n_ok]]).astype(int).tolist(),
                strict=True,
            )
        )
        return out


class ModelBuilder:
    """Builds :class:`MatrixModel` from problem data, one method per SPEC section."""

    def __init__(self, data: ProblemData, relaxed: bool = False, balance_form: str | None = None):
        if balance_form is not None and balance_form not in BALANCE_FORMS:
            raise ValueError(f"balance_form must be one of {BALANCE_FORMS}, not {balance_form!r}")
        self.data = data
        self.relaxed = relaxed
        self.balance_form = balance_form
        self.groups: list[GroupKey] = []
        self._group_ids: dict[GroupKey, int] = {}
        self._rows: list[
            tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = []  # (row, col, value), local rows
        self._row_lb: list[np.ndarray] = []
        self._row_ub: list[np.ndarray] = []
        self._row_group: list[np.ndarray] = []
        self._num_rows = 0
        self._candidates: list[tuple[np.ndarray, np.ndarray, int, int]] = []

    # -- helpers -------------------------------------------------------------

    def _group(self, group: str, **key: Any) -> int:
        gk = GroupKey(group, tuple(key.items()))
        gid = self._group_ids.get(gk)
        if gid is None:
            gid = self._group_ids[gk] = len(self.groups)
            self.groups.append(gk)
        return gid

    def _add_rows(
        self,
        local_row: np.ndarray,
        col: np.ndarray,
        value: np.ndarray,
        lb: np.ndarray,
        ub: np.ndarray,
        group: np.ndarray | int,
    ) -> None:
        """Append ``len(lb)`` rows; ``local_row`` indexes into them."""
        n = len(lb)
        if n == 0:
            return
        self._rows.append(
            (
                np.asarray(local_row, dtype=np.int64) + self._num_rows,
                np.asarray(col, dtype=np.int64),
                np.asarray(value, dtype=np.float64),
            )
        )
        self._row_lb.append(np.asarray(lb, dtype=np.float64))
        self._row_ub.append(np.asarray(ub, dtype=np.float64))
        self._row_group.append(np.broadcast_to(np.asarray(group, dtype=np.int64), (n,)).copy())
        self._num_rows += n

    def _region_year_groups(self, regions: np.ndarray, years: np.ndarray) -> np.ndarray:
        """The ``quota.region_year`` group of each ``(region, year offset)``: §3.2's rows and
        the same quotas over the counts ``N`` share it, so they are switched together."""
        d = self.data
        return np.array(
            [
                self._group("quota.region_year", region=d.region_ids[r], year=d.start + int(y))
                for r, y in zip(regions, years, strict=True)
            ],
            dtype=np.int64,
        )

    @staticmethod
    def _bounds(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.where(pairs[..., 0] == UNBOUNDED, -INF, pairs[..., 0].astype(np.float64))
        hi = np.where(pairs[..., 1] == UNBOUNDED, INF, pairs[..., 1].astype(np.float64))
        return lo, hi

    # -- the model -----------------------------------------------------------

    def build(self) -> MatrixModel:
        self.variables()
        self.build_once()  # §3.1
        self.quotas()  # §3.2
        self.crews()  # §3.3
        self.technicians()  # §3.4
        if self.balance_form == "sites" and not self.relaxed and len(self.x_site) >= HULL_MIN_X:
            # implied rows of §3.3 and §3.4, kept aside as candidates
            self.crew_hull()
            self.technician_hull()
        self.resources()  # §3.5
        self.precedence()  # §3.6
        self.balance()  # §3.7
        self.objective()  # §3.8
        if self.relaxed:
            self.window()
        return self._finish()

    def variables(self) -> None:
        """Columns ``x``, ``a``, ``t`` (SPEC §3 decisions) and the balance auxiliaries."""
        d = self.data
        num_y = d.num_years
        sites, opts, years = [], [], []
        for s in range(d.num_sites):
            options, window = _choices(d, s, self.relaxed)
            yrs = np.arange(window.start, window.stop) - d.start
            if len(options) == 0 or len(yrs) == 0:
                continue
            oo, yy = np.meshgrid(options, yrs, indexing="ij")
            sites.append(np.full(oo.size, s))
            opts.append(oo.ravel())
            years.append(yy.ravel())
        self.x_site = np.concatenate(sites) if sites else np.zeros(0, dtype=np.int64)
        self.x_option = np.concatenate(opts) if opts else np.zeros(0, dtype=np.int64)
        self.x_year = np.concatenate(years) if years else np.zeros(0, dtype=np.int64)
        num_x = len(self.x_site)

        # a[k,s,y]: reach, crews available, and an x needing crews exists at (s, y); k is the
        # first pool of its class of interchangeable pools (ProblemData.class_available).
        needs = d.option_crews[self.x_option] > 0
        site_year = np.zeros((d.num_sites, num_y), dtype=bool)
        site_year[self.x_site[needs], self.x_year[needs]] = True
        if d.has_crews:
            mask = d.reach[:, :, None] & site_year[None, :, :] & (d.class_available[:, None, :] > 0)
            a_pool, a_site, a_year = np.nonzero(mask)
        else:
            a_pool = a_site = a_year = np.zeros(0, dtype=np.int64)
        self.a_pool, self.a_site, self.a_year = a_pool, a_site, a_year
        self.a_offset = num_x
        num_a = len(a_pool)

        # t[r,y]: only where trainees can still staff a factory built in the horizon.
        usable = np.arange(num_y) + d.lead_time <= num_y - 1
        t_mask = (d.training_capacity > 0) & usable[None, :]
        if not d.option_technicians.any():
            t_mask[:] = False
        self.t_region, self.t_year = np.nonzero(t_mask)
        self.t_offset = num_x + num_a
        num_t = len(self.t_region)

        self.aux_offset = self.t_offset + num_t
        if d.balance_pct is None:
            self.balance_form = None
        elif self.balance_form is None:
            self.balance_form = _balance_form(d)
        # B[s,y] (form "sites"): every year from the site's first x column on.
        first = np.full(d.num_sites, num_y)
        np.minimum.at(first, self.x_site, self.x_year)
        self.first_x_year = first
        self.n_region = self.n_year = np.zeros(0, dtype=np.int64)
        if self.balance_form == "sites":
            reps = num_y - first
            self.b_site = np.repeat(np.arange(d.num_sites), reps)
            self.b_year = np.repeat(first, reps) + _ragged_arange(reps)
            # N[r,y]: every year of every region with a B column.
            regions = np.unique(d.site2region[self.b_site])
            self.n_region = np.repeat(regions, num_y)
            self.n_year = np.tile(np.arange(num_y), len(regions))
            self.num_aux = len(self.b_site) + len(self.n_region)
        else:
            self.b_site = self.b_year = np.zeros(0, dtype=np.int64)
            self.num_aux = d.num_regions * num_y if self.balance_form == "regions" else 0
        n = self.aux_offset + self.num_aux
        self.col_lb = np.zeros(n)
        self.col_ub = np.ones(n)
        self.col_ub[self.a_offset : self.t_offset] = d.class_available[a_pool, a_year]
        self.col_ub[self.t_offset : self.aux_offset] = d.training_capacity[
            self.t_region, self.t_year
        ]
        if self.balance_form == "sites":
            # N[r,y] <= the region's B columns of year y.
            b_per = np.zeros((d.num_regions, num_y), dtype=np.int64)
            np.add.at(b_per, (d.site2region[self.b_site], self.b_year), 1)
            self.col_ub[self.aux_offset + len(self.b_site) :] = b_per[self.n_region, self.n_year]
        if self.balance_form == "regions":
            # S[r,y] <= Σ_{s in r} w(s) · (number of x columns of s): a bound, never binding.
            per_site = np.bincount(self.x_site, minlength=d.num_sites) * d.weight
            region_max = np.bincount(d.site2region, weights=per_site, minlength=d.num_regions)
            self.col_ub[self.aux_offset :] = np.repeat(region_max, num_y)
        self.obj = np.zeros(n)
        self.obj_const = 0

    def _aux(self, region: np.ndarray, year: np.ndarray) -> np.ndarray:
        return np.asarray(self.aux_offset + region * self.data.num_years + year)

    def build_once(self) -> None:
        """§3.1 ``Σ_{o,y} x[s,o,y] = 1`` (required or fixed), ``<= 1`` (optional)."""
        d = self.data
        lb = np.where(d.required, 1.0, 0.0)
        ub = np.ones(d.num_sites)
        group = np.array([self._group("build_once", site=s) for s in d.site_ids], dtype=np.int64)
        self._add_rows(
            self.x_site, np.arange(len(self.x_site)), np.ones(len(self.x_site)), lb, ub, group
        )

    def quotas(self) -> None:
        """§3.2 ``min_ry <= Σ_{s in r} b[s,y] <= max_ry`` and ``min_y <= Σ_s b[s,y] <= max_y``."""
        d = self.data
        num_y = d.num_years
        bounds = d.quota_region_year
        has = (bounds[..., 0] != UNBOUNDED) | (bounds[..., 1] != UNBOUNDED)
        if has.any():
            rr, yy = np.nonzero(has)
            local = np.full((d.num_regions, num_y), -1, dtype=np.int64)
            local[rr, yy] = np.arange(len(rr))
            row = local[d.site2region[self.x_site], self.x_year]
            keep = row >= 0
            lo, hi = self._bounds(bounds[rr, yy])
            self._add_rows(
                row[keep],
                np.flatnonzero(keep),
                np.ones(int(keep.sum())),
                lo,
                hi,
                self._region_year_groups(rr, yy),
            )
        has_y = (d.quota_year[:, 0] != UNBOUNDED) | (d.quota_year[:, 1] != UNBOUNDED)
        if has_y.any():
            yy = np.flatnonzero(has_y)
            local_y = np.full(num_y, -1, dtype=np.int64)
            local_y[yy] = np.arange(len(yy))
            row = local_y[self.x_year]
            keep = row >= 0
            lo, hi = self._bounds(d.quota_year[yy])
            group = [self._group("quota.year", year=d.start + int(y)) for y in yy]
            self._add_rows(
                row[keep], np.flatnonzero(keep), np.ones(int(keep.sum())), lo, hi, np.array(group)
            )

    def crews(self) -> None:
        """§3.3 ``Σ_s a[k,s,y] <= available(k,y)`` and ``Σ_k a[k,s,y] = Σ_o crews(o)·x[s,o,y]``,
        with ``k`` a class of interchangeable pools and ``available`` its pools' sum."""
        d = self.data
        if not d.has_crews:
            return
        num_y = d.num_years
        group_of_year = np.array([self._group("crews", year=y) for y in d.years], dtype=np.int64)
        a_cols = self.a_offset + np.arange(len(self.a_pool))
        # Pool rows, only where some a exists (otherwise 0 <= available holds trivially).
        key = self.a_pool * num_y + self.a_year
        uniq, local = np.unique(key, return_inverse=True)
        pk, py = np.divmod(uniq, num_y)
        self._add_rows(
            local,
            a_cols,
            np.ones(len(a_cols)),
            np.full(len(uniq), -INF),
            d.class_available[pk, py].astype(float),
            group_of_year[py],
        )
        # Site rows, for every (s, y) where some x needs crews.
        crews = d.option_crews[self.x_option]
        needs = np.flatnonzero(crews > 0)
        x_key = self.x_site[needs] * num_y + self.x_year[needs]
        a_key = self.a_site * num_y + self.a_year
        uniq = np.unique(x_key)
        x_local = np.searchsorted(uniq, x_key)
        a_local = np.searchsorted(uniq, a_key)
        rows = np.concatenate([a_local, x_local])
        cols = np.concatenate([a_cols, needs])
        vals = np.concatenate([np.ones(len(a_cols)), -crews[needs].astype(float)])
        sy = uniq % num_y
        zeros = np.zeros(len(uniq))
        self._add_rows(rows, cols, vals, zeros, zeros, group_of_year[sy])

    def technicians(self) -> None:
        """§3.4 ``stock(r) + Σ_{y' <= y-L} t[r,y'] >= Σ_{s in r} Σ_{y' <= y} Σ_o tech(o)·x[s,o,y']``."""
        d = self.data
        num_y = d.num_years
        tech = d.option_technicians[self.x_option]
        needs = np.flatnonzero(tech > 0)
        if len(needs) == 0:
            return
        regions = np.unique(d.site2region[self.x_site[needs]])
        local = np.full(d.num_regions, -1, dtype=np.int64)
        local[regions] = np.arange(len(regions))
        # x[s,o,y'] enters every row (r, y) with y >= y': repeat each column over those years.
        x_years = self.x_year[needs]
        reps = num_y - x_years
        x_cols = np.repeat(needs, reps)
        x_row_year = np.repeat(x_years, reps) + _ragged_arange(reps)
        x_rows = local[d.site2region[self.x_site[x_cols]]] * num_y + x_row_year
        # t[r,y'] enters rows (r, y) with y >= y' + L.
        t_in = local[self.t_region] >= 0
        t_idx = np.flatnonzero(t_in)
        t_first = self.t_year[t_idx] + d.lead_time
        t_reps = np.maximum(num_y - t_first, 0)
        t_cols = self.t_offset + np.repeat(t_idx, t_reps)
        t_row_year = np.repeat(t_first, t_reps) + _ragged_arange(t_reps)
        t_rows = local[np.repeat(self.t_region[t_idx], t_reps)] * num_y + t_row_year
        rows = np.concatenate([x_rows, t_rows])
        cols = np.concatenate([x_cols, t_cols])
        vals = np.concatenate([-tech[x_cols].astype(float), np.ones(len(t_cols))])
        lb = np.repeat(-d.trained_stock[regions].astype(float), num_y)
        group = np.repeat(
            [self._group("technicians", region=d.region_ids[r]) for r in regions], num_y
        )
        self._add_rows(rows, cols, vals, lb, np.full(len(lb), INF), group)

    def _add_hull_rows(
        self,
        facets: tuple[tuple[np.ndarray, int], ...],
        options: np.ndarray,
        x_cols: np.ndarray,
        u_cols: np.ndarray,
        group: int,
    ) -> None:
        """Candidate rows ``Σ_o n_o·(Σ x_cols of option o) + n_U·(Σ u_cols) <= h``."""
        for normal, h in facets:
            n_u = int(normal[-1])
            coef = np.zeros(self.data.num_options, dtype=np.int64)
            coef[options] = normal[:-1]
            row_x = x_cols[coef[self.x_option[x_cols]] != 0]
            row_u = u_cols if n_u != 0 else u_cols[:0]
            values = np.concatenate([coef[self.x_option[row_x]], np.full(len(row_u), n_u)])
            self._candidates.append((np.concatenate([row_x, row_u]), values, h, group))

    def _count_limits(self, x_cols: np.ndarray, quota_max: int) -> tuple[int, np.ndarray]:
        """How many of ``x_cols``'s sites a plan can build, at most: all of them or
        ``quota_max`` (UNBOUNDED: no quota); and per option, the sites that offer it."""
        limit = len(np.unique(self.x_site[x_cols]))
        if quota_max != UNBOUNDED:
            limit = min(limit, quota_max)
        per_option = np.array(
            [
                len(np.unique(self.x_site[x_cols[self.x_option[x_cols] == o]]))
                for o in range(self.data.num_options)
            ]
        )
        return limit, per_option

    def technician_hull(self) -> None:
        """Implied rows from the integer hull of §3.4, per region ``r`` and year ``y``.

        In the space of the option counts ``A_o = Σ_{s in r, y' <= y} x[s,o,y']`` (options
        needing technicians) and the trainees ready by ``y``, ``T = Σ_{y' <= y-L} t[r,y']``,
        every plan lies on a segment ``need(A) <= T <= cap``, with ``need = max(0, Σ_o
        tech(o)·A_o - stock)``, for an integer ``A`` with ``A_o <= `` the region's sites that
        can take ``o`` by ``y`` and ``Σ_o A_o <= `` its sites and its quota maximums by ``y``.
        The facets of the convex hull of those segments (scipy's Qhull, :func:`count_hull`)
        become rows ``Σ_o n_o·A_o + n_T·T <= h`` with integer ``n`` and ``h`` the largest
        ``n``-value over the enumerated points, computed exactly — valid whatever rounding
        Qhull's normals had. Technicians come in whole factories (30, 45, 60 a design in the
        national scenarios), and the LP relaxation builds fractions of designs to use the
        last trainees of a stock; these rows are the roundings a solver's cut loop otherwise
        finds one round at a time (``benchmarks/HISTORY.md``, run 7).

        They are not rows yet: all of them slow HiGHS down, the few its LP relaxation
        violates speed it up. They are kept in :attr:`MatrixModel.candidates`, and
        :func:`solver.cuts.add_violated` adds those."""
        d = self.data
        num_y, lead = d.num_years, d.lead_time
        tech = d.option_technicians.astype(np.int64)
        options = np.flatnonzero(tech > 0)
        if len(options) == 0:
            return
        region_of_x = d.site2region[self.x_site]
        t_cols = self.t_offset + np.arange(len(self.t_region))
        q_max = d.quota_region_year[..., 1]
        for r in range(d.num_regions):
            in_r = np.flatnonzero((region_of_x == r) & (tech[self.x_option] > 0))
            if len(in_r) == 0:
                continue
            group = self._group("technicians", region=d.region_ids[r])
            for y in range(num_y):
                x_cols = in_r[self.x_year[in_r] <= y]
                if len(x_cols) == 0:
                    continue
                ready = t_cols[(self.t_region == r) & (self.t_year <= y - lead)]
                quota = (
                    int(q_max[r, : y + 1].sum())
                    if (q_max[r, : y + 1] != UNBOUNDED).all()
                    else UNBOUNDED
                )
                limit, per_option = self._count_limits(x_cols, quota)
                facets = count_hull(
                    tuple(per_option[options].tolist()),
                    limit,
                    tuple(tech[options].tolist()),
                    int(d.trained_stock[r]),
                    int(self.col_ub[ready].sum()),
                )
                self._add_hull_rows(facets, options, x_cols, ready, group)

    def crew_hull(self) -> None:
        """Implied rows from the integer hull of §3.3, per region ``r`` and year ``y``.

        The builds of the year, ``n_o = Σ_{s in r} x[s,o,y]``, need ``Σ_o crews(o)·n_o`` crews
        on the region's sites; the region's own pools (crew classes whose every ``a`` column
        of the year is in ``r``) send at most their ``L`` crews, so the others must send
        ``G = Σ a[k,s,y]`` (``k`` not own, ``s`` in ``r``) of at least ``max(0, Σ_o
        crews(o)·n_o - L)``, and at most the ``cap`` crews they have that year. Every plan
        lies on such a segment with ``n`` integer, ``n_o <= `` the region's sites offering
        ``o`` that year, ``Σ_o n_o <= `` its quota maximum: the hull's facets
        (:func:`count_hull`) are rows ``Σ_o m_o·n_o + m_G·G <= h``. national-20x10's
        provinces have 2-4 crews of their own (1-3 a design) and share the army's 16: the LP
        relaxation builds 4/3 of a large complex on a province's 4 crews, or 1.25 standard
        and half a large; the flows (each site's row, each pool's row) hide the province's
        total from the solver's own cuts, which aggregate a few rows at a time. Measured in
        ``benchmarks/HISTORY.md`` (run 8). Kept as candidates, like :meth:`technician_hull`."""
        d = self.data
        if not d.has_crews or len(self.a_pool) == 0:
            return
        crews = d.option_crews.astype(np.int64)
        options = np.flatnonzero(crews > 0)
        if len(options) == 0:
            return
        num_y = d.num_years
        region_of_x = d.site2region[self.x_site]
        region_of_a = d.site2region[self.a_site]
        a_cols = self.a_offset + np.arange(len(self.a_pool))
        # A class is a region's own in a year when all its a columns of that year are there.
        key = self.a_pool * num_y + self.a_year
        uniq, inverse = np.unique(key, return_inverse=True)
        lo = np.full(len(uniq), d.num_regions)
        hi = np.full(len(uniq), -1)
        np.minimum.at(lo, inverse, region_of_a)
        np.maximum.at(hi, inverse, region_of_a)
        own = (lo == hi)[inverse]
        q_max = d.quota_region_year[..., 1]
        needs = crews[self.x_option] > 0
        for r in range(d.num_regions):
            in_r = needs & (region_of_x == r)
            a_in_r = region_of_a == r
            for y in range(num_y):
                x_cols = np.flatnonzero(in_r & (self.x_year == y))
                if len(x_cols) == 0:
                    continue
                here = a_in_r & (self.a_year == y)
                local = np.unique(self.a_pool[here & own])
                others = np.unique(self.a_pool[here & ~own])
                limit, per_option = self._count_limits(x_cols, int(q_max[r, y]))
                facets = count_hull(
                    tuple(per_option[options].tolist()),
                    limit,
                    tuple(crews[options].tolist()),
                    int(d.class_available[local, y].sum()),
                    int(d.class_available[others, y].sum()),
                )
                group = self._group("crews", year=d.years[y])
                self._add_hull_rows(facets, options, x_cols, a_cols[here & ~own], group)

    def resources(self) -> None:
        """§3.5 ``Σ_{s,o} resources(o,q)·x[s,o,y] <= limit(q,y)``."""
        d = self.data
        num_y = d.num_years
        for q, name in enumerate(d.resource_ids):
            use = d.option_resources[self.x_option, q]
            cols = np.flatnonzero(use > 0)
            if len(cols) == 0:
                continue
            group = [self._group("resources", resource=name, year=y) for y in d.years]
            self._add_rows(
                self.x_year[cols],
                cols,
                use[cols].astype(float),
                np.full(num_y, -INF),
                d.resource_limit[q].astype(float),
                np.array(group),
            )

    def precedence(self) -> None:
        """§3.6 ``B[q,y] <= B[p, y-g]`` for every year ``y`` (``B[p, y'] = 0`` before the start)."""
        d = self.data
        num_y = d.num_years
        for p, q, gap in d.precedences:
            gid = self._group("precedence", before=d.site_ids[p], after=d.site_ids[q])
            after = self.x_columns_of_site(q)
            before = self.x_columns_of_site(p)
            # x[q,.,y'] enters rows y >= y'; x[p,.,y'] enters rows y >= y' + gap.
            reps_q = num_y - self.x_year[after]
            rows_q = np.repeat(self.x_year[after], reps_q) + _ragged_arange(reps_q)
            first_p = self.x_year[before] + gap
            reps_p = np.maximum(num_y - first_p, 0)
            rows_p = np.repeat(first_p, reps_p) + _ragged_arange(reps_p)
            rows = np.concatenate([rows_q, rows_p])
            cols = np.concatenate([np.repeat(after, reps_q), np.repeat(before, reps_p)])
            vals = np.concatenate([np.ones(len(rows_q)), -np.ones(len(rows_p))])
            self._add_rows(rows, cols, vals, np.full(num_y, -INF), np.zeros(num_y), gid)

    def balance(self) -> None:
        """§3.7 ``100·W·S_r(y) >= 100·W_r·S(y) - δ·W_r·W`` in the model's ``balance_form``."""
        d = self.data
        if d.balance_pct is None:
            return
        num_y, num_r = d.num_years, d.num_regions
        if self.balance_form == "dense":
            self._balance_dense()
            return
        if self.balance_form == "sites":
            self._balance_sites()
            return
        # Definitions: S[r,y] - S[r,y-1] - Σ_{s in r,o} w(s)·x[s,o,y] = 0.
        rr, yy = np.divmod(np.arange(num_r * num_y), num_y)
        local = np.arange(num_r * num_y)
        prev = yy > 0
        rows = np.concatenate(
            [local, local[prev], d.site2region[self.x_site] * num_y + self.x_year]
        )
        cols = np.concatenate(
            [self._aux(rr, yy), self._aux(rr[prev], yy[prev] - 1), np.arange(len(self.x_site))]
        )
        vals = np.concatenate(
            [np.ones(len(local)), -np.ones(int(prev.sum())), -d.weight[self.x_site].astype(float)]
        )
        zeros = np.zeros(len(local))
        self._add_rows(rows, cols, vals, zeros, zeros, DEFINITION)
        # Balance rows (r, y): 100·W·S[r,y] - 100·W_r·Σ_r' S[r',y] >= -δ·W_r·W, divided by
        # g_r = 100·gcd(W, W_r): the left side stays integral, so the right side may be
        # rounded up (exact), and the coefficients shrink by orders of magnitude.
        w_r_int = d.region_weight.astype(np.int64)
        w_all_int = int(w_r_int.sum())
        delta = d.balance_pct
        g = 100 * np.gcd(w_r_int, w_all_int)
        g = np.where(g == 0, 1, g)
        coef_self = (100 * w_all_int) // g  # per region r
        coef_all = (100 * w_r_int) // g
        # ceil(-δ·W_r·W / g) in exact integers.
        rhs = -((delta * w_r_int * w_all_int) // g)
        row_r, row_y, other = np.meshgrid(
            np.arange(num_r), np.arange(num_y), np.arange(num_r), indexing="ij"
        )
        row = (row_r * num_y + row_y).ravel()
        col = self._aux(other, row_y).ravel()
        val = (
            (-coef_all[row_r] + np.where(other == row_r, coef_self[row_r], 0)).astype(float).ravel()
        )
        self._balance_rows(row, col, val, rhs)

    def _balance_scaling(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per region: the coefficients of S_r and S, and the right side, divided by
        ``g_r = 100·gcd(W, W_r)`` (the left side stays integral, so the right side is
        rounded up: exact), which shrinks the coefficients by orders of magnitude."""
        d = self.data
        w_r = d.region_weight.astype(np.int64)
        w_all = int(w_r.sum())
        assert d.balance_pct is not None
        g = 100 * np.gcd(w_r, w_all)
        g = np.where(g == 0, 1, g)
        rhs = -((d.balance_pct * w_r * w_all) // g)
        return (100 * w_all) // g, (100 * w_r) // g, rhs

    def _balance_sites(self) -> None:
        """§3.7 over the binaries ``B[s,y]`` (form ``"sites"``, module docstring)."""
        d = self.data
        num_y, num_r = d.num_years, d.num_regions
        num_b = len(self.b_site)
        b_cols = self.aux_offset + np.arange(num_b)
        # Definitions: B[s,y] - B[s,y-1] - Σ_o x[s,o,y] = 0 (B[s, first-1] = 0).
        b_index = np.full((d.num_sites, num_y), -1, dtype=np.int64)
        b_index[self.b_site, self.b_year] = np.arange(num_b)
        has_prev = self.b_year > self.first_x_year[self.b_site]
        prev = b_index[self.b_site[has_prev], self.b_year[has_prev] - 1]
        x_rows = b_index[self.x_site, self.x_year]
        self._add_rows(
            np.concatenate([np.arange(num_b), np.flatnonzero(has_prev), x_rows]),
            np.concatenate([b_cols, self.aux_offset + prev, np.arange(len(self.x_site))]),
            np.concatenate(
                [np.ones(num_b), -np.ones(int(has_prev.sum())), -np.ones(len(self.x_site))]
            ),
            np.zeros(num_b),
            np.zeros(num_b),
            DEFINITION,
        )
        # Row (r, y) holds every B[s,y]: own sites c_s = (coef_self - coef_all)·w(s), the
        # others -coef_all·w(s); the right side as in the other forms (exact integers).
        coef_self, coef_all, rhs = self._balance_scaling()
        w = d.weight.astype(np.int64)
        region_of_b = d.site2region[self.b_site]
        row_r = np.repeat(np.arange(num_r), num_b)
        b = np.tile(np.arange(num_b), num_r)
        own = region_of_b[b] == row_r
        vals = (np.where(own, coef_self[row_r], 0) - coef_all[row_r]) * w[self.b_site[b]]
        if not self.relaxed:
            # Once an own site is built the row holds whatever the others build (they weigh
            # at most U(r,y)): its coefficient need not exceed cap = rhs + coef_all·U.
            cap = rhs[:, None] + coef_all[:, None] * self._others_bound()
            vals = np.where(own, np.minimum(vals, np.maximum(cap[row_r, self.b_year[b]], 0)), vals)
        keep = vals != 0
        self._balance_rows((row_r * num_y + self.b_year[b])[keep], b_cols[b][keep], vals[keep], rhs)
        self._region_counts()

    def _region_counts(self) -> None:
        """Integer counts ``N[r,y] = Σ_{s in r} B[s,y]`` (sites of ``r`` built by the end of
        ``y``), defined by always-on rows, and §3.2's region-year quotas written over them
        again, ``min_ry <= N[r,y] - N[r,y-1] <= max_ry``, in the quota's group. Redundant for
        the integer points; they give HiGHS the counts to branch and cut on ("region r has
        built at most 3 sites by y, or at least 4"), which balance is about for the regions
        with light sites (``benchmarks/RESULTS.md``); without the quota rows over them
        presolve substitutes the counts out."""
        d = self.data
        num_y = d.num_years
        n_offset = self.aux_offset + len(self.b_site)
        num_n = len(self.n_region)
        n_index = np.full((d.num_regions, num_y), -1, dtype=np.int64)
        n_index[self.n_region, self.n_year] = np.arange(num_n)
        # N[r,y] - Σ_{s in r} B[s,y] = 0.
        b_rows = n_index[d.site2region[self.b_site], self.b_year]
        self._add_rows(
            np.concatenate([np.arange(num_n), b_rows]),
            np.concatenate([n_offset + np.arange(num_n), self.aux_offset + np.arange(len(b_rows))]),
            np.concatenate([np.ones(num_n), -np.ones(len(b_rows))]),
            np.zeros(num_n),
            np.zeros(num_n),
            DEFINITION,
        )
        bounds = d.quota_region_year[self.n_region, self.n_year]
        has = (bounds[:, 0] != UNBOUNDED) | (bounds[:, 1] != UNBOUNDED)
        quota = np.flatnonzero(has)
        if len(quota) == 0:
            return
        later = self.n_year[quota] > 0  # N[r,y-1] is the column before N[r,y]
        lo, hi = self._bounds(bounds[quota])
        self._add_rows(
            np.concatenate([np.arange(len(quota)), np.flatnonzero(later)]),
            np.concatenate([n_offset + quota, n_offset + quota[later] - 1]),
            np.concatenate([np.ones(len(quota)), -np.ones(int(later.sum()))]),
            lo,
            hi,
            self._region_year_groups(self.n_region[quota], self.n_year[quota]),
        )

    def _others_bound(self) -> np.ndarray:
        """``U[r, y]``: the most weight the sites outside region ``r`` can have built by the
        end of year ``y`` — a site at most once, from its first buildable year, at most
        ``Σ_{y' <= y} max_{r',y'}`` sites of a region ``r'``, at most ``Σ_{y' <= y} max_y'``
        sites in all less region ``r``'s own ``Σ_{y' <= y} min_{r,y'}``. The greedy by weight
        is optimal for these nested caps (a laminar matroid): per region its heaviest sites up
        to its cap, then the heaviest of those up to the total."""
        d = self.data
        num_y, num_r = d.num_years, d.num_regions
        big = 10**12  # no cap (more sites than any scenario has)
        q_ry, q_y = d.quota_region_year, d.quota_year
        region_max = np.where(q_ry[..., 1] == UNBOUNDED, big, q_ry[..., 1]).cumsum(axis=1)
        region_min = np.where(q_ry[..., 0] == UNBOUNDED, 0, q_ry[..., 0]).cumsum(axis=1)
        year_max = np.where(q_y[:, 1] == UNBOUNDED, big, q_y[:, 1]).cumsum()
        w = d.weight.astype(np.int64)
        order = np.lexsort((-w, d.site2region))  # by region, heaviest first
        out = np.zeros((num_r, num_y), dtype=np.int64)
        for y in range(num_y):
            sites = order[self.first_x_year[order] <= y]
            region = d.site2region[sites]
            rank = np.arange(len(sites)) - np.searchsorted(region, region)  # within the region
            cand = sites[rank < region_max[region, y]]
            cand = cand[np.argsort(-w[cand], kind="stable")]
            other = d.site2region[cand][None, :] != np.arange(num_r)[:, None]  # (R, C)
            count = np.cumsum(other, axis=1)
            total = np.maximum(year_max[y] - region_min[:, y], 0)
            taken = other & (count <= total[:, None])
            out[:, y] = (taken * w[cand][None, :]).sum(axis=1)
        return out

    def _balance_dense(self) -> None:
        """§3.7 written over x: row (r, y) holds every x[s,o,y'] with y' <= y."""
        d = self.data
        num_y, num_r = d.num_years, d.num_regions
        coef_self, coef_all, rhs = self._balance_scaling()
        reps = num_y - self.x_year
        x_cols = np.repeat(np.arange(len(self.x_site)), reps)
        row_year = np.repeat(self.x_year, reps) + _ragged_arange(reps)
        # Every region's row gets each term.
        cols = np.tile(x_cols, num_r)
        region = np.repeat(np.arange(num_r), len(x_cols))
        years = np.tile(row_year, num_r)
        site_region = d.site2region[self.x_site[cols]]
        w = d.weight[self.x_site[cols]]
        vals = (
            (np.where(site_region == region, coef_self[region], 0) - coef_all[region]) * w
        ).astype(float)
        keep = vals != 0
        self._balance_rows((region * num_y + years)[keep], cols[keep], vals[keep], rhs)

    def _balance_rows(
        self, row: np.ndarray, col: np.ndarray, value: np.ndarray, rhs: np.ndarray
    ) -> None:
        """Append the balance rows ``(r, y)`` (local row ``r·num_years + y``), ``>= rhs[r]``."""
        d = self.data
        num_y, num_r = d.num_years, d.num_regions
        rr, yy = np.divmod(np.arange(num_r * num_y), num_y)
        group = [
            self._group("balance", region=d.region_ids[r], year=d.start + int(y))
            for r, y in zip(rr, yy, strict=True)
        ]
        self._add_rows(
            row,
            col,
            np.asarray(value, dtype=float),
            np.repeat(rhs.astype(float), num_y),
            np.full(num_r * num_y, INF),
            np.array(group),
        )

    def objective(self) -> None:
        """§3.8 ``Z = wB·Σ benefit·(end-y+1)·x - wM·Σ dist·a - wT·Σ t - wS·Σ_baseline (1 - x)``."""
        d = self.data
        w = d.weights
        num_y = d.num_years
        self.obj[: len(self.x_site)] = (
            w["benefit"] * d.benefit[self.x_site, self.x_option] * (num_y - self.x_year)
        )
        self.obj[self.a_offset : self.t_offset] = (
            -w["mobilization"] * d.distance[self.a_pool, self.a_site]
        )
        self.obj[self.t_offset : self.aux_offset] = -w["training"]
        if d.baseline and w["stability"]:
            self.obj_const = -w["stability"] * len(d.baseline)
            lookup = x_lookup(self.x_site, self.x_option, self.x_year)
            for s, o, year in d.baseline:
                col = lookup.get((s, o, year - d.start))
                if col is not None:
                    self.obj[col] += w["stability"]

    def window(self) -> None:
        """The ``window`` group (relaxed mode): fix x outside the window and the fixed option."""
        d = self.data
        self.window_fixings: dict[int, np.ndarray] = {}
        year = self.x_year + d.start
        inside = np.zeros(len(self.x_site), dtype=bool)
        for s in range(d.num_sites):
            cols = self.x_columns_of_site(s)
            ok = (
                np.isin(self.x_option[cols], d.site_options[s])
                & (year[cols] >= d.build_years[s].start)
                & (year[cols] < d.build_years[s].stop)
            )
            inside[cols] = ok
            gid = self._group("window", site=d.site_ids[s])
            self.window_fixings[gid] = cols[~ok]

    def x_columns_of_site(self, s: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.x_site, [s, s + 1])
        return np.arange(lo, hi)

    def _finish(self) -> MatrixModel:
        if self._rows:
            rows = np.concatenate([r for r, _, _ in self._rows])
            cols = np.concatenate([c for _, c, _ in self._rows])
            vals = np.concatenate([v for _, _, v in self._rows])
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
            vals = np.zeros(0)
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        row_start = np.zeros(self._num_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self._num_rows), out=row_start[1:])
        return MatrixModel(
            data=self.data,
            relaxed=self.relaxed,
            col_lb=self.col_lb,
            col_ub=self.col_ub.astype(float),
            obj=self.obj,
            obj_const=int(self.obj_const),
            x_site=self.x_site,
            x_option=self.x_option,
            x_year=self.x_year,
            a_offset=self.a_offset,
            a_pool=self.a_pool,
            a_site=self.a_site,
            a_year=self.a_year,
            t_offset=self.t_offset,
            t_region=self.t_region,
            t_year=self.t_year,
            aux_offset=self.aux_offset,
            num_aux=self.num_aux,
            balance_form=self.balance_form,
            b_site=self.b_site,
            b_year=self.b_year,
            n_region=self.n_region,
            n_year=self.n_year,
            row_start=row_start,
            row_index=cols,
            row_value=vals,
            row_lb=np.concatenate(self._row_lb) if self._row_lb else np.zeros(0),
            row_ub=np.concatenate(self._row_ub) if self._row_ub else np.zeros(0),
            row_group=np.concatenate(self._row_group)
            if self._row_group
            else np.zeros(0, dtype=np.int64),
            groups=self.groups,
            window_fixings=getattr(self, "window_fixings", {}),
            candidates=CandidateRows.from_rows(self._candidates),
        )


def x_lookup(
    x_site: np.ndarray, x_option: np.ndarray, x_year: np.ndarray
) -> dict[tuple[int, int, int], int]:
    """``(site, option, year offset) -> x column``."""
    return {
        (s, o, y): i
        for i, (s, o, y) in enumerate(
            zip(x_site.tolist(), x_option.tolist(), x_year.tolist(), strict=True)
        )
    }


@functools.lru_cache(maxsize=4096)
def count_hull(
    per_option: tuple[int, ...], limit: int, weight: tuple[int, ...], base: int, cap: int
) -> tuple[tuple[np.ndarray, int], ...]:
    """Facets ``(n, h)``, ``n·(A, U) <= h``, of the convex hull of ``{(A, U): A integer,
    0 <= A_o <= per_option_o, Σ_o A_o <= limit, max(0, weight·A - base) <= U <= cap}``: the
    shape of both hulls (:meth:`ModelBuilder.technician_hull`, :meth:`ModelBuilder.crew_hull`),
    ``n`` ending with ``U``'s coefficient. None above :data:`HULL_MAX_COUNTS` count vectors.
    The row the set is made of (``weight·A - U <= base``, scaled) is left out: §3.4's own row
    is in the model, and §3.3's is implied by its flows. Cached: regions and years alike share
    their facets."""
    bounds = np.minimum(np.array(per_option, dtype=np.int64), limit)
    w = np.array(weight, dtype=np.int64)
    if int(np.prod(bounds + 1)) > HULL_MAX_COUNTS:
        return ()
    counts = np.indices(tuple(bounds + 1)).reshape(len(bounds), -1).T
    counts = counts[counts.sum(axis=1) <= limit]
    need = np.maximum(counts @ w - base, 0)
    ok = need <= cap
    counts, need = counts[ok], need[ok]
    points = np.vstack(
        [np.column_stack([counts, need]), np.column_stack([counts, np.full(len(need), cap)])]
    )
    facets = tuple(
        (n, h)
        for n, h in _hull_rows(points)
        if not (n[-1] < 0 and h == -n[-1] * base and (n[:-1] == -n[-1] * w).all())
    )
    for n, _ in facets:
        n.flags.writeable = False  # cached: every model built in the process shares them
    return facets


def _hull_rows(points: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Facets of the convex hull of integer ``points`` as ``(n, h)``: ``n·p <= h`` for every
    point, ``n`` integer (Qhull's normal rounded to small fractions), ``h = max n·p`` exact.
    Coordinates constant over the points are left out of the hull (their ``n`` is 0). A facet
    with one non-zero still bounds a sum of columns (``A_o <= 1``), so every facet is kept."""
    from fractions import Fraction
    from math import lcm

    from scipy.spatial import ConvexHull, QhullError  # imported here: ~0.3 s

    points = np.unique(points, axis=0)
    varying = np.flatnonzero(points.max(axis=0) > points.min(axis=0))
    if len(varying) < 2 or len(points) <= len(varying):
        return []
    try:
        hull = ConvexHull(points[:, varying].astype(float))
    except QhullError:
        return []  # the points span less than their space: no facets worth a row
    out: dict[tuple[int, ...], int] = {}
    normals = hull.equations[:, :-1] / np.abs(hull.equations[:, :-1]).max(axis=1, keepdims=True)
    for normal in np.unique(np.round(normals, 9), axis=0):
        fracs = [Fraction(float(v)).limit_denominator(1000) for v in normal]
        scale = lcm(*(f.denominator for f in fracs))
        ints = np.array([int(f * scale) for f in fracs], dtype=np.int64)
        full = np.zeros(points.shape[1], dtype=np.int64)
        full[varying] = ints
        out[tuple(full.tolist())] = int((points.astype(np.int64) @ full).max())
    return [(np.array(n, dtype=np.int64), h) for n, h in out.items()]


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    starts = np.repeat(ends - counts, counts)
    return np.asarray(np.arange(total, dtype=np.int64) - starts)


def column_bound(data: ProblemData, relaxed: bool = False) -> int:
    """An upper bound on the columns of :func:`build_model`'s model of ``data`` (``relaxed``:
    the conflict finder's, every option of a site in every year), counted without building it
    (a service refuses a model past its size before spending the build's seconds and memory
    on it): every ``x`` and ``a`` column exactly, ``t`` and the balance's auxiliaries at their
    most in the form :func:`build_model` chooses by itself."""
    d = data
    num_y = d.num_years
    site_year = np.zeros((d.num_sites, num_y), dtype=bool)  # a year an option needing crews is
    num_x = 0
    for s in range(d.num_sites):
        options, years = _choices(d, s, relaxed)
        num_x += len(options) * len(years)
        if len(years) and (d.option_crews[options] > 0).any():
            site_year[s, years.start - d.start : years.stop - d.start] = True
    num_a = 0
    if d.has_crews and d.num_sites:
        per_pool_year = d.reach.astype(np.int64) @ site_year.astype(np.int64)  # (K, Y)
        num_a = int(per_pool_year[d.class_available > 0].sum())
    num_t = d.num_regions * num_y
    num_aux = 0
    if d.balance_pct is not None:
        num_aux = (d.num_sites * (_balance_form(d) == "sites") + d.num_regions) * num_y
    return num_x + num_a + num_t + num_aux


def _choices(d: ProblemData, s: int, relaxed: bool) -> tuple[np.ndarray, range]:
    """Site ``s``'s options and build years (``relaxed``: the conflict finder's, every option
    it has a benefit for in every year of the horizon)."""
    if relaxed:
        return np.flatnonzero(d.benefit[s] >= 0), range(d.start, d.end + 1)
    return np.asarray(d.site_options[s], dtype=np.int64), d.build_years[s]


def _balance_form(d: ProblemData) -> str:
    """The balance's form when the caller names none: per site while it stays small."""
    terms = d.num_regions * d.num_sites * d.num_years
    return "sites" if terms <= SITES_BALANCE_MAX_TERMS else "regions"


def build_model(
    data: ProblemData, relaxed: bool = False, balance_form: str | None = None
) -> MatrixModel:
    """Build the SPEC §3 model of ``data`` (``relaxed``: the conflict finder's variant;
    ``balance_form``: ``"sites"``, ``"regions"`` or ``"dense"``, module docstring; ``None``
    decides by size)."""
    return ModelBuilder(data, relaxed=relaxed, balance_form=balance_form).build()
