/*
 * The hbp DSL: module, loss, elementwise-function and network declarations and matrix expressions.
 * One grammar for specs (`file`), ad-hoc expressions (`singleExpr`) and variable types
 * (`singleType`). Precedence, tightest first: postfix ' and .^, unary minus, * .* ./ /, + -.
 */
grammar Hbp;

@header {
package org.hbp.dsl.parser;
}

file: decl* EOF;

singleExpr: expr EOF;

singleType: typeSpec EOF;

decl
  : elementwiseDecl
  | moduleDecl
  | networkDecl
  ;

// elementwise swish(t) = t .* sigmoid(t);
// elementwise mysig(t) = 1 ./ (1 + exp(-t)) { d1 = mysig(t) .* (1 - mysig(t)); }
elementwiseDecl
  : ELEMENTWISE name=ID '(' param=ID (',' extra+=ID)* ')' '=' body=expr (';' | '{' derivative* '}')
  ;

derivative: name=ID '=' expr ';';

// module linear { dims n, m; input x: vector(n); param W: matrix(m,n); output z = W*x; }
// loss square { dims n; input x: vector(n); target y: vector(n); output E = (y - x)'*(y - x); }
// A variable's type may be followed by its domain, a plain name checked by the builder:
// param S: matrix(n, n) spd;  input x: vector(n) positive;  target y: vector(c) onehot;
// An index map may say how a network computes it from an input, by an index primitive (checked
// by the builder): index idx: tensor(c, h/k, w/k) = window_argmax(x, k);
// A local definition names a subexpression for the later lets, the output and the assumptions
// (substituted where used; checked by the builder): let mu = sum(x)/n;
moduleDecl: kind=(MODULE | LOSS) name=ID '{' item* '}';

item
  : DIMS dimDecl (',' dimDecl)* ';'                                # dimsItem
  | role=(INPUT | PARAM | DATA | INDEX | TARGET) name=ID ':' typeSpec domain=ID? (eq='=' computed=expr)? ';'  # varItem
  | LET name=ID '=' expr ';'                                        # letItem
  | ASSUME lhs=expr '==' rhs=expr ';'                              # assumeItem
  | OUTPUT ID '=' expr ';'                                         # outputItem
  ;

// network fc { input x: vector(784); linear(m = 256); sigmoid; residual { relu; } loss crossentropy; }
// The order of the items (input first, loss last, no input or loss inside a block) and the name
// of a block (only 'residual') are checked by the builder, which reports them in words.
//
// A graph network names its values, one statement per value, and wires them as a DAG:
// network g { input x: vector(16); h = linear(m = 8)(x); a = tanh(h); b = sigmoid(h); z = a + b;
//             fc = linear(m = 8); u = fc(z); v = fc(u); c = concat(u, v); loss crossentropy(c); }
//   NAME = MODULE(k = v, ...)(VALUE);   a module applied to a value (its parameters are NAME.W, ...)
//   NAME = MODULE(VALUE);               the same without keyword dims
//   NAME = MODULE(k = v, ...);  NAME = MODULE;   a named instance, applied later as NAME2 = NAME(VALUE)
//   NAME = VALUE + VALUE;  - and .* too; NAME = concat(VALUE, VALUE, ...)   merges
//   loss LOSS(VALUE);                   the loss of the network's output value, last
// Names, definition before use, shapes and unused values are checked when the network is resolved.
networkDecl: NETWORK name=ID '{' layerItem* '}';

// a module instance `sigmoid;` or `linear(m = 10);`, a block `residual { ... }`, or a graph
// statement `h = tanh(x);`: one alternative, so that what follows the name is an LL(1) choice
// and errors name the token
layerItem
  : INPUT ID ':' typeSpec ';'                                                   # netInputItem
  | LOSS name=ID layerArgs? valueArgs? ';'                                      # netLossItem
  | name=ID (layerArgs? ';' | open='{' layerItem* '}' | eq='=' graphValue ';')  # layerInstance
  ;

// the right-hand side of a graph statement: a merge of two values, or a call
graphValue
  : left=ID op=('+' | '-' | '.*') right=ID                 # mergeValue
  | callee=ID layerArgs? valueArgs?                        # callValue
  ;

// the values a module, a named instance, concat or the loss is applied to: (x) or (a, b)
valueArgs: '(' ID (',' ID)* ')';

// keyword dims of a module instance: conv2d(cout = 16, k = 3)
layerArgs: '(' (layerArg (',' layerArg)*)? ')';

layerArg: key=ID '=' value=NUMBER;

// a dim symbol, or a derived dim computed from earlier ones: dims oh = (h + 2*p - k)/s + 1
dimDecl: ID ('=' expr)?;

typeSpec
  : SCALAR                                        # scalarType
  | VECTOR '(' expr ')'                           # vectorType
  | MATRIX '(' expr ',' expr ')'                  # matrixType
  | TENSOR '(' expr ',' expr ',' expr ')'         # tensorType
  ;

expr
  : expr QUOTE                                    # transposeExpr
  | expr '.^' minus='-'? NUMBER                   # powerExpr
  | '-' expr                                      # negExpr
  | expr op=('*' | '.*' | './' | '/') expr        # mulExpr
  | expr op=('+' | '-') expr                      # addExpr
  | NUMBER                                        # numberExpr
  | ID QUOTE* '(' (arg (',' arg)*)? ')'           # callExpr
  | ID                                            # nameExpr
  | '(' expr ')'                                  # parenExpr
  ;

arg: (key=ID '=')? expr;

ELEMENTWISE: 'elementwise';
MODULE: 'module';
LOSS: 'loss';
NETWORK: 'network';
DIMS: 'dims';
INPUT: 'input';
PARAM: 'param';
DATA: 'data';
INDEX: 'index';
TARGET: 'target';
ASSUME: 'assume';
LET: 'let';
OUTPUT: 'output';
SCALAR: 'scalar';
VECTOR: 'vector';
MATRIX: 'matrix';
TENSOR: 'tensor';

QUOTE: '\'';
NUMBER: [0-9]+ ('.' [0-9]+)? ([eE] [+-]? [0-9]+)?;
ID: [a-zA-Z_] [a-zA-Z_0-9]*;
LINE_COMMENT: '//' ~[\r\n]* -> skip;
BLOCK_COMMENT: '/*' .*? '*/' -> skip;
WS: [ \t\r\n]+ -> skip;
// any other character: reported by the parser as unexpected, never dropped silently
UNEXPECTED_CHAR: .;
