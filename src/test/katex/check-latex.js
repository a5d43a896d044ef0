// Parses LaTeX strings with KaTeX (throwOnError, strict, maxExpand 100000): reads a JSON array of strings from the
// file named as the first argument (or from standard input), renders each in display mode, and
// exits with status 1 naming the first string that KaTeX rejects and why. Used by LatexKatexTest.
'use strict';
const fs = require('fs');
const katex = require('katex');

const input = fs.readFileSync(process.argv[2] || 0, 'utf8');
const strings = JSON.parse(input);
if (!Array.isArray(strings)) {
  console.error('expected a JSON array of LaTeX strings');
  process.exit(2);
}
for (const s of strings) {
  try {
    // maxExpand: hbp's LaTeX defines no macros, but every \operatorname is an expansion, and the
    // rules of the attention specs hold more than KaTeX's default limit of 1000 (see the README)
    katex.renderToString(s, { throwOnError: true, displayMode: true, strict: 'error', maxExpand: 100000 });
  } catch (e) {
    console.error('KaTeX rejects: ' + s + '\n' + e.message);
    process.exit(1);
  }
}
console.log('katex ' + katex.version + ': ' + strings.length + ' strings parsed');
