/*
 * The hbp DSL: module, loss and elementwise-function declarations and matrix expressions.
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
  ;

// elementwise swish(t) = t .* sigmoid(t);
// elementwise mysig(t) = 1 ./ (1 + exp(-t)) { d1 = mysig(t) .* (1 - mysig(t)); }
elementwiseDecl
  : ELEMENTWISE name=ID '(' param=ID ')' '=' body=expr (';' | '{' derivative* '}')
  ;

derivative: name=ID '=' expr ';';

// module linear { dims n, m; input x: vector(n); param W: matrix(m,n); output z = W*x; }
// loss square { dims n; input x: vector(n); target y: vector(n); output E = (y - x)'*(y - x); }
moduleDecl: kind=(MODULE | LOSS) name=ID '{' item* '}';

item
  : DIMS dimDecl (',' dimDecl)* ';'                                # dimsItem
  | role=(INPUT | PARAM | DATA | INDEX | TARGET) ID ':' typeSpec ';'  # varItem
  | ASSUME lhs=expr '==' rhs=expr ';'                              # assumeItem
  | OUTPUT ID '=' expr ';'                                         # outputItem
  ;

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
NETWORK: 'network'; // reserved for network declarations
DIMS: 'dims';
INPUT: 'input';
PARAM: 'param';
DATA: 'data';
INDEX: 'index';
TARGET: 'target';
ASSUME: 'assume';
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
