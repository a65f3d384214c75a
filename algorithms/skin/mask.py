"""The skin mask: the pixels of the restored face that a skin finding may use.

Four exclusions, each for a reason of its own (docs/algorithms.md#skin):

* **anatomy**, from the mesh: the face oval inset by OVAL_INSET_MM, minus the eyes (with the
  lashes and lid margins), brows, lips and nostrils, each grown by a margin in millimetres;
* **background and clothes**, from the selfie segmentation model (person probability below
  PERSON_MIN);
* **hair, beard and stubble**, from a per-face skin colour model: the chromophore indices
  (haemoglobin, melanin; both blind to shading) and L* are sampled where skin is all but
  certain (discs on both cheeks), and a pixel is hair when it departs from that skin the way
  hair does: less blood, more melanin, darker. The three one-sided z-scores are summed,
  smoothed over HAIR_SMOOTH_MM and thresholded at HAIR_Z; a candidate must also be bloodless
  (BLOOD_MIN_Z) or very dark (DARK_ALONE_Z), since shading moves melanin and L* too, and lie
  off the nose below the eyes (the face layer's nose region from NOSE_BELOW_EYES_MM under the
  inner canthi down), where no hair grows but side light shades one side. A
  flagged patch counts as hair when it touches the anatomy part's edge or the brows, or is
  larger than HAIR_ISOLATED_MM2; a small isolated dark patch inside the face is a mole or a
  freckle, a finding, not hair. Beards and stubble are a texture of dark dots: in the beard
  zone (below the nose) a dot z-score adds to the hair score, and on a bearded face (median
  dot z over the zone >= beard.BEARDED_Z) the beard is found per face from the zone's blood +
  darkness + dots (:mod:`algorithms.skin.beard`: grown from its confident part, up the
  cheeks' sides, and with the lighter patches it encloses); an upper lip dotted and bloodless
  on both sides of the philtrum is a moustache (beard.has_moustache), which the zone's median
  misses, and a chin dotted, bloodless and no lighter than the cheeks (a shiny chin's pores are
  dotted and bloodless too) over beard.STUBBLE_SHARE is light stubble (beard.is_stubbled),
  found like a beard but without the rise up the cheeks and kept where dotted, between the
  mouth corners and on the whole upper lip (beard.stubble_hair); a fringe over the forehead is a
  texture of vertical edges (STRAND_Z) reaching in from the outline;
* **clipped pixels** (any channel outside 3..250) carry neither colour nor texture.

Specular highlights (L* well above the skin's, HIGHLIGHT_Z robust deviations) stay in the
mask for texture but are left out of colour findings (:attr:`SkinMask.colour`), with a
COLOUR_GUARD_MM band around them and around clipped pixels, whose neighbours are half-clipped;
so are the alae, the columella and the outer eye corners' lashes, whose colour is not the
skin's. Findings whose
centre lies within BORDER_BAND_MM of the mask's edge are dropped (:attr:`SkinMask.core`):
there, filters see the edge itself.

Example
-------
>>> from algorithms.skin.mask import compute_skin_mask       # doctest: +SKIP
>>> m = compute_skin_mask(face, lab, haemoglobin, melanin)    # doctest: +SKIP
>>> m.mask.mean()                                             # doctest: +SKIP
0.31
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry.base import BaseGeometry

from algorithms.face import indices as ix
from algorithms.face.regions import feature_polygons
from algorithms.face.types import FaceGeometry
from algorithms.skin.beard import (MOUSTACHE_REACH_MM, STUBBLE_AREA_MM,
                                   STUBBLE_BELOW_MOUTH_MM, STUBBLE_INSET_MM,
                                   STUBBLE_SHARE, beard_hair, has_moustache, is_bearded,
                                   moustache_hair, stubble_hair, stubble_share)
from algorithms.skin.geometry import disc, rasterise  # the one rasteriser of the skin layer

__all__ = ["SkinMask", "compute_skin_mask", "person_probability", "SEED_LANDMARKS",
           "BORDER_BAND_MM"]

OVAL_INSET_MM = 1.5      # the mesh's outline sits on the silhouette's shading
EYE_MARGIN_MM = 3.0      # lashes, lid margins, the shadow of the lid crease
BROW_MARGIN_MM = 2.5     # brow hairs outside the mesh's brow contour
LIPS_MARGIN_MM = 2.0     # vermilion border
NOSTRIL_MARGIN_MM = 2.5  # nostril rims and the alar crease
PERSON_MIN = 0.5         # selfie segmentation probability of "person"
# Cheek discs (mesh points under the eyes, beside the nose) where skin is near certain.
SEED_LANDMARKS = (50, 280, 117, 346, 36, 266)
SEED_RADIUS_MM = 5.0
SD_FLOOR = (2.0, 2.0, 3.0)  # haemoglobin, melanin (index units), L*: least spread assumed
HAIR_Z = 6.0             # summed one-sided z-scores above which a pixel looks like hair
HAIR_SMOOTH_MM = 0.5
HAIR_ISOLATED_MM2 = 180.0  # an isolated dark patch up to this (a 15 mm spot) is a finding, not hair
HAIR_TOUCH_MM = 3.0      # a patch this close to the outline or a brow is hair
# Stubble and beards: a dense texture of small dark dots (hair shafts, follicles). Dark-dot
# energy = blur(L*, DOT_OUTER_MM) - blur(L*, DOT_INNER_MM), its positive part averaged over
# DOT_AREA_MM, as a z-score against the seed skin (spread at least DOT_SD_FLOOR L*).
DOT_INNER_MM, DOT_OUTER_MM, DOT_AREA_MM = 0.15, 0.8, 1.5
DOT_SD_FLOOR = 0.06
# A shadow moves the melanin index and L* (real cameras are not the model's narrow bands)
# but neither the blood index nor the texture: a hair pixel must also show less blood
# (z >= BLOOD_MIN_Z) or the dotted texture of hair (z >= DOT_MIN_Z) ...
BLOOD_MIN_Z = 0.75
DOT_MIN_Z = 2.0
DARK_ALONE_Z = 4.0     # ... or be far darker than any shading of the face's skin
# No hair grows on the nose: side light shades one nose side from the eye corner to the
# nostril, a patch touching the eye and nostril holes that passed as hair (london_031, 063).
# Only from this far below the inner canthi: the eye socket's shade beside them stays with
# the hair test (pigmentation's given-back patches and fitted scores count london_102's;
# docs/algorithms.md#skin).
INNER_CANTHI = (133, 362)
NOSE_BELOW_EYES_MM = 2.0
# Beards grow below the nose: the dot texture counts only below the line this far above the
# subnasale (mesh point 2; the restored face has its eyes level). Above it, lashes, lid
# creases, forehead lines and the nose's pores are dotted too and are skin.
BEARD_ABOVE_MM = 3.0
SUBNASALE = 2
UPPER_LIP_TOP = 0  # with ix.MOUTH_CORNERS, a moustache's extent (beard.has_moustache)
DOT_EDGE_MM = 1.0        # beside the lips' and nostrils' margins the dot filter sees their edge
# A bearded face's beard: algorithms/skin/beard.py.
# A fringe: strands hanging over the forehead, lighter than the colour test's threshold where
# skin shows between them, are a texture of vertical edges. Their energy: the horizontal
# gradient of L* band-passed between STRAND_INNER_MM and STRAND_OUTER_MM, squared, averaged
# over STRAND_AREA_MM, as a log z-score against the seed skin (spread >= STRAND_SD_FLOOR);
# above STRAND_Z where it outweighs the vertical gradient's (anisotropy > STRAND_ANISO:
# forehead lines run across, not down), above the brows' lowest point, in patches reaching
# the face's outline (frown lines and single vertical creases do not).
STRAND_INNER_MM, STRAND_OUTER_MM, STRAND_AREA_MM = 0.15, 0.8, 1.5
STRAND_SD_FLOOR = 0.1
STRAND_Z = 4.0
STRAND_ANISO = 0.2
HIGHLIGHT_Z = 3.5
BORDER_BAND_MM = 1.5
COLOUR_GUARD_MM = 1.0    # colour findings keep this far from highlights and clipped pixels
CLEAN_MM = 0.4           # opening radius: single hairs and noise specks
# Left out of colour findings only (lines and pores keep them):
# the alae (nose wings) with their crease, naturally redder and shaded than the cheeks ...
RIGHT_ALA = (129, 64, 98, 49, 48, 219, 218, 237, 209, 131)  # 209, 131: the top of the lobule
ALA_MARGIN_MM = 2.0
# ... and the outer eye corners, where the longest lashes reach past the lid margin band
OUTER_CANTHI = (33, 263)
LASH_CORNER_MM = 6.0
# ... and the columella and nostril sills: the hull of both nostrils grown by this
COLUMELLA_MARGIN_MM = 2.0


@dataclass(frozen=True, eq=False)
class SkinMask:
    """The skin mask of one restored face and what it was built from (bool ``(H, W)``)."""

    mask: np.ndarray        # skin every finding may use
    core: np.ndarray        # mask without its BORDER_BAND_MM edge: where findings may lie
    colour: np.ndarray      # mask without specular highlights: for colour findings
    anatomy: np.ndarray     # the mesh part (oval minus eyes, brows, lips, nostrils)
    person: np.ndarray      # selfie segmentation
    hair: np.ndarray        # hair, beard and stubble inside the anatomy part
    highlights: np.ndarray
    skin_colour: tuple[float, float, float]   # haemoglobin, melanin, L* of the seed skin
    # float (H, W): the colour part of the hair test (less blood, more melanin), which a
    # shadow does not move; None for masks made without a colour model
    hair_chroma: np.ndarray | None = None
    # the chin's stubble share (beard.stubble_share; stubbled from beard.STUBBLE_SHARE), None
    # on a bearded face or without a chin: a measure, for benchmarks/stubble_flush.py
    chin_stubble: float | None = None

    def fraction(self, of: np.ndarray) -> float:
        """Share of ``of``'s pixels that are skin."""
        n = int(of.sum())
        return float((self.mask & of).sum() / n) if n else 0.0


def _fill(geom: BaseGeometry, shape) -> np.ndarray:
    return rasterise(geom, shape)


def anatomy_mask(points: np.ndarray, px_per_mm: float, shape) -> np.ndarray:
    """Face oval inset, minus eyes, brows, lips and nostrils with their margins (mm)."""
    f = feature_polygons(points)
    mm = float(px_per_mm)
    keep = f["face_oval"].buffer(-OVAL_INSET_MM * mm)
    for name, margin in (("right_eye", EYE_MARGIN_MM), ("left_eye", EYE_MARGIN_MM),
                         ("right_brow", BROW_MARGIN_MM), ("left_brow", BROW_MARGIN_MM),
                         ("lips", LIPS_MARGIN_MM), ("right_nostril", NOSTRIL_MARGIN_MM),
                         ("left_nostril", NOSTRIL_MARGIN_MM)):
        keep = keep.difference(f[name].buffer(margin * mm))
    return _fill(keep, shape)


def person_probability(image: np.ndarray) -> np.ndarray:
    """Selfie segmentation of an RGB uint8 image: person probability at its size."""
    from algorithms import model_files

    h, w = image.shape[:2]
    x = cv2.resize(image[..., :3], (256, 256), interpolation=cv2.INTER_AREA)
    out = model_files.run("selfie_segmentation", x.astype(np.float32)[None] / 255.0)[0]
    prob = np.clip(out.reshape(256, 256), 0.0, 1.0)
    return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)


def _robust(values: np.ndarray, floor: float) -> tuple[float, float]:
    med = float(np.median(values))
    sd = float(1.4826 * np.median(np.abs(values - med)))
    return med, max(sd, floor)


def compute_skin_mask(face: FaceGeometry, lightness: np.ndarray, haemoglobin: np.ndarray,
                      melanin: np.ndarray, measurable: np.ndarray) -> SkinMask:
    """The :class:`SkinMask` of ``face`` from its restored L*, chromophore maps (numpy,
    ``(H, W)``) and its unclipped pixels."""
    shape = lightness.shape
    mm = float(face.restored.px_per_mm)
    pts = face.landmarks_restored
    if ix.has_mesh(pts):
        anatomy = anatomy_mask(pts, mm, shape)
    else:  # a face given by its regions alone (no mesh): their skin outline
        anatomy = _fill(face.regions.get("face_skin"), shape)
    person = person_probability(face.restored.image) >= PERSON_MIN

    seeds = np.zeros(shape, np.uint8)
    for i in SEED_LANDMARKS:
        x, y = pts[i]
        cv2.circle(seeds, (int(round(x)), int(round(y))), int(round(SEED_RADIUS_MM * mm)), 1, -1)
    seeds = seeds.astype(bool) & anatomy & measurable
    if seeds.sum() < 50:  # no mesh, or a face turned so far that no cheek shows: no colour model
        seeds = anatomy & measurable
    stats = [_robust(ch[seeds], fl) if seeds.any() else (0.0, fl)
             for ch, fl in zip((haemoglobin, melanin, lightness), SD_FLOOR)]
    (hb0, hb_sd), (mel0, mel_sd), (l0, l_sd) = stats
    chroma = (np.maximum(hb0 - haemoglobin, 0) / hb_sd
              + np.maximum(melanin - mel0, 0) / mel_sd).astype(np.float32)
    dark = (np.maximum(l0 - lightness, 0) / l_sd).astype(np.float32)
    blood = cv2.GaussianBlur((np.maximum(hb0 - haemoglobin, 0) / hb_sd).astype(np.float32),
                             (0, 0), HAIR_SMOOTH_MM * mm)
    chroma = cv2.GaussianBlur(chroma, (0, 0), HAIR_SMOOTH_MM * mm)
    all_dots = _dot_z(lightness, seeds, mm, anatomy)
    beard_zone = np.zeros(shape, bool)
    lip = np.zeros(shape, bool)
    chin = np.zeros(shape, bool)
    top = max(pts[SUBNASALE][1] - BEARD_ABOVE_MM * mm, 0.0) if ix.has_mesh(pts) else 0.0
    if ix.has_mesh(pts):
        beard_zone[int(top):] = True
        f = feature_polygons(pts)
        edge = np.zeros(shape, bool)
        for name, margin in (("lips", LIPS_MARGIN_MM), ("right_nostril", NOSTRIL_MARGIN_MM),
                             ("left_nostril", NOSTRIL_MARGIN_MM)):
            edge |= _fill(f[name].buffer((margin + DOT_EDGE_MM) * mm), shape)
        all_dots[edge] = 0.0
        # the upper lip, from the subnasale to the vermilion, between the mouth corners
        lip = _upper_lip(pts, shape) & anatomy & measurable & ~edge
        # the chin, below the mouth and inside the jaw's shading (beard.is_stubbled)
        oval = _fill(f["face_oval"].buffer(-(OVAL_INSET_MM + STUBBLE_INSET_MM) * mm), shape)
        below = pts[list(ix.MOUTH_CORNERS), 1].max() + STUBBLE_BELOW_MOUTH_MM * mm
        chin[max(int(below), 0):] = True
        chin &= oval & anatomy & measurable & ~edge
    beard_zone &= anatomy
    dots = np.where(beard_zone, all_dots, 0.0)
    dark = cv2.GaussianBlur(dark, (0, 0), HAIR_SMOOTH_MM * mm)
    z = chroma + dark + np.where(dots >= DOT_MIN_Z, dots, 0)  # only clearly dotted skin
    flagged = (z > HAIR_Z) & anatomy & ((blood >= BLOOD_MIN_Z) | (dark >= DARK_ALONE_Z))
    nose = face.regions.get("nose")
    if nose is not None and not nose.is_empty and ix.has_mesh(pts):
        # no hair grows on the nose below the eyes: a dark side there is side light's shade
        lower = np.zeros(shape, bool)
        lower[max(int(pts[list(INNER_CANTHI), 1].max() + NOSE_BELOW_EYES_MM * mm), 0):] = True
        flagged &= ~(_fill(nose, shape) & lower)
    stubble = None
    if is_bearded(dots, beard_zone & measurable):
        beard = beard_hair(blood, dark, all_dots, beard_zone, int(top), anatomy, pts, mm)
    else:
        unlit = cv2.GaussianBlur(lightness.astype(np.float32), (0, 0), STUBBLE_AREA_MM * mm) <= l0
        stubble = stubble_share(blood, all_dots, chin, unlit)
        if stubble is not None and stubble >= STUBBLE_SHARE:
            # the upper lip and chin between the mouth corners (where the call was made), and
            # the whole upper lip past them
            beard = stubble_hair(blood, dark, all_dots, beard_zone, int(top), anatomy, pts, mm,
                                 _between_corners(pts, shape), seeds,
                                 upper_lip=_upper_lip(pts, shape, MOUSTACHE_REACH_MM * mm))
        elif lip.any() and has_moustache(blood, all_dots, lip, float(pts[SUBNASALE][0]), mm):
            beard = moustache_hair(blood, dark, all_dots, lip, mm)
        else:
            beard = np.zeros(shape, bool)
    hair = _hair_patches(flagged, anatomy, pts, mm) | beard
    if ix.has_mesh(pts) and seeds.any():
        hair |= _fringe(lightness, seeds, anatomy, pts, mm)
    highlights = (lightness - l0 > HIGHLIGHT_Z * l_sd) & anatomy

    mask = anatomy & person & ~hair & measurable
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc(CLEAN_MM * mm))
    mask = mask.astype(bool)
    core = cv2.erode(mask.astype(np.uint8), disc(BORDER_BAND_MM * mm)).astype(bool)
    for m in (mask, core, anatomy, hair, highlights, chroma):
        m.setflags(write=False)
    person.setflags(write=False)
    # next to a highlight or a clipped pixel, colour is half-clipped too: guard band
    guard = cv2.dilate((highlights | ~measurable).astype(np.uint8), disc(COLOUR_GUARD_MM * mm))
    colour = mask & ~guard.astype(bool)
    if ix.has_mesh(pts):
        colour &= ~_colour_exclusions(pts, mm, shape)
    colour.setflags(write=False)
    return SkinMask(mask=mask, core=core, colour=colour, anatomy=anatomy, person=person,
                    hair=hair, highlights=highlights, skin_colour=(hb0, mel0, l0),
                    hair_chroma=chroma, chin_stubble=stubble)


def _between_corners(pts: np.ndarray, shape, reach: float = 0.0) -> np.ndarray:
    """The columns between the mouth corners, widened by ``reach`` pixels each side (bool)."""
    xl, xr = sorted(float(pts[i][0]) for i in ix.MOUTH_CORNERS)
    cols = np.zeros(shape, bool)
    cols[:, max(int(xl - reach), 0):int(xr + reach) + 1] = True
    return cols


def _upper_lip(pts: np.ndarray, shape, reach: float = 0.0) -> np.ndarray:
    """The rows from the subnasale to the vermilion's top, :func:`_between_corners` (bool)."""
    y0 = max(int(pts[SUBNASALE][1]), 0)
    rows = np.zeros(shape, bool)
    rows[y0:max(int(pts[UPPER_LIP_TOP][1]), y0)] = True
    return rows & _between_corners(pts, shape, reach)


def _colour_exclusions(pts: np.ndarray, mm: float, shape) -> np.ndarray:
    """The alae with their crease and the outer eye corners' lashes (bool)."""
    from shapely.geometry import MultiPoint, Point

    geoms = [MultiPoint(pts[list(ala)]).convex_hull.buffer(ALA_MARGIN_MM * mm)
             for ala in (RIGHT_ALA, ix.mirror_indices(RIGHT_ALA))]
    # the columella and nostril sills between and around the nostrils
    geoms.append(MultiPoint(pts[list(ix.RIGHT_NOSTRIL + ix.LEFT_NOSTRIL)]).convex_hull.buffer(
        COLUMELLA_MARGIN_MM * mm))
    geoms += [Point(*pts[i]).buffer(LASH_CORNER_MM * mm) for i in OUTER_CANTHI]
    out = np.zeros(shape, bool)
    for g in geoms:
        out |= _fill(g, shape)
    return out


def _dot_z(lightness: np.ndarray, seeds: np.ndarray, mm: float,
           within: np.ndarray) -> np.ndarray:
    """Dark-dot texture (stubble, beard) as a z-score against the seed skin. The blurs are
    normalised over ``within`` (the anatomy part), so the lips' and nostrils' edges and the
    bright background beyond the outline do not read as dots beside them."""
    light = lightness.astype(np.float32)
    w = within.astype(np.float32)

    def mblur(a, s):
        return cv2.GaussianBlur(a * w, (0, 0), s) / np.maximum(cv2.GaussianBlur(w, (0, 0), s),
                                                               1e-3)

    dots = np.maximum(mblur(light, DOT_OUTER_MM * mm) - cv2.GaussianBlur(
        light, (0, 0), DOT_INNER_MM * mm), 0) * w
    energy = mblur(dots, DOT_AREA_MM * mm)
    if not seeds.any():
        return np.zeros_like(energy)
    med, sd = _robust(energy[seeds], DOT_SD_FLOOR)
    return (energy - med) / sd


def _hair_patches(flagged: np.ndarray, anatomy: np.ndarray, pts: np.ndarray,
                  mm: float) -> np.ndarray:
    """The flagged patches that are hair: touching the anatomy part's edge (the outline and
    the rims of the eye, nostril and lip holes) or a brow, or large."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flagged.astype(np.uint8), 8)
    if n <= 1:
        return np.zeros_like(flagged)
    touch = disc(HAIR_TOUCH_MM * mm)
    edge = anatomy & ~cv2.erode(anatomy.astype(np.uint8), touch).astype(bool)
    brows = np.zeros(flagged.shape, np.uint8)
    for loop in (ix.RIGHT_BROW, ix.LEFT_BROW):
        cv2.fillPoly(brows, [np.round(pts[list(loop)]).astype(np.int32)], 1)
    brows = cv2.dilate(brows, touch).astype(bool)
    near = np.zeros(n, bool)
    near[np.unique(labels[edge | brows])] = True
    large = stats[:, cv2.CC_STAT_AREA] / mm ** 2 > HAIR_ISOLATED_MM2
    is_hair = near | large
    is_hair[0] = False
    return is_hair[labels]


def _fringe(lightness: np.ndarray, seeds: np.ndarray, anatomy: np.ndarray, pts: np.ndarray,
            mm: float) -> np.ndarray:
    """Hair strands hanging over the forehead from the outline (bool; see STRAND_Z)."""
    light = lightness.astype(np.float32)
    band = cv2.GaussianBlur(light, (0, 0), STRAND_INNER_MM * mm) - cv2.GaussianBlur(
        light, (0, 0), STRAND_OUTER_MM * mm)
    across = cv2.GaussianBlur(cv2.Sobel(band, cv2.CV_32F, 1, 0, ksize=3) ** 2, (0, 0),
                              STRAND_AREA_MM * mm)
    down = cv2.GaussianBlur(cv2.Sobel(band, cv2.CV_32F, 0, 1, ksize=3) ** 2, (0, 0),
                            STRAND_AREA_MM * mm)
    energy = np.log(across + 1e-3)
    med, sd = _robust(energy[seeds], STRAND_SD_FLOOR)
    cand = ((energy - med) / sd > STRAND_Z) & (
        (across - down) / (across + down + 1e-6) > STRAND_ANISO) & anatomy
    cand[int(max(pts[list(ix.RIGHT_BROW) + list(ix.LEFT_BROW), 1].max(), 0)):] = False
    oval = _fill(feature_polygons(pts)["face_oval"].buffer(-OVAL_INSET_MM * mm), anatomy.shape)
    rim = oval & ~cv2.erode(oval.astype(np.uint8), disc(HAIR_TOUCH_MM * mm)).astype(bool)
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    reaching = np.zeros(n, bool)
    reaching[np.unique(labels[cand & rim])] = True
    reaching[0] = False
    return reaching[labels]
