// The package's version, as package.json gives it (a test holds the two equal; src/ reads no
// file outside itself).
export const VERSION = "0.1.0";
