// Package blindindex provides the uce search index: text made into keyed tokens that
// PostgreSQL's full-text search can store in a tsvector and match with a tsquery, so the
// database ranks, phrases and prefixes without ever holding a word of an entry.
//
// Text is cut into words by Unicode word segmentation (UAX #29), each word normalised
// (NFKC) and case folded, PostgreSQL's English stop words dropped (they still take a
// position, as in to_tsvector('english')), and the rest stemmed with the Snowball English
// (Porter2) stemmer, the one PostgreSQL's english configuration uses. Each stem becomes
// HMAC-SHA256 under the user's search key (HKDF of the master key, for this purpose
// alone), truncated to 50 bits and written as 10 base32 characters: the tsvector's
// lexeme, with the word's positions and a weight (title A, content D). Every prefix of a
// word from 3 to 8 characters is a token too, under another domain separation, so that
// "walk*" finds walked, walking and walker. Text from outside (Origin: a Facebook pull,
// an import) is hashed under domains of its own, and a query looks for both. docs/privacy.md says what such an index
// reveals and why the length was chosen.
//
// Queries (websearch syntax: words, "phrases", or, -word, prefix*) are parsed, stemmed
// and hashed the same way into a tsquery whose text holds only tokens and operators, and
// is passed to PostgreSQL as a parameter. Snippets are cut in memory from the decrypted
// text (Snippet), never stored.
//
// Every writer of uce entry text writes its tokens here (Tokens, then Put; OnOpen for the
// intake redemption), in the transaction of the write; the search function reads them
// with its own SQL (ParseQuery, Key.TSQuery, Snippet).
package blindindex
