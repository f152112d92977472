// The cell finder's tuned settings: the JavaScript twin of classifier/cells/params.py (Params,
// DEFAULT), same values, camelCase names. Sizes are multiples of D, the median red-cell
// diameter of the photo, or of a red cell's area; read params.py for what each one does.

export const SCALE = 1024; // white-balanced channels: 1024 = background level; darkness 1024 = no light
export const BLACK = 960; // darkness from which a pixel passes no light at all: padding, not a cell

export const DEFAULT_PARAMS = Object.freeze({
  minBackground: 40,
  minCellContrast: 40,
  nucleusMargin: 1.5,
  nucleusDarkness: 1.8,
  nucleusAbsorbs: 0.45,
  nucleusHue: 0.7,
  hueDarkness: 1.2,
  groupRadius: 0.15,
  wbcMinArea: 0.3,
  wbcEdgeMinArea: 0.3,
  rbcMinArea: 0.4,
  rbcMaxArea: 1.6,
  rbcCentreDepth: 0.25,
  rbcSpacing: 0.7,
  plateletMargin: 1.0,
  plateletMinArea: 0.004,
  plateletMaxArea: 0.1,
  plateletMaxSide: 0.45,
  plateletGrow: 0.05,
  plateletMinSide: 0.37,
  plateletMaxCover: 0.7,
  wbcGrow: 0.1,
  cytoplasmMargin: 0.1,
  cytoplasmDarkness: 0.7,
  cytoplasmReach: 0.3,
});
