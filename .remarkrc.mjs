// Checks the front matter of content files against the JSON Schemas in schemas/ (made by
// `backpain-site schema` from src/backpain_site/schema.py). VS Code's remark extension
// (unifiedjs.vscode-remark) reads this file and underlines mistakes as you type; `npx remark
// content --quiet` does the same in a terminal. See docs/editor-setup.md.
import remarkFrontmatter from 'remark-frontmatter';
import remarkLintFrontmatterSchema from 'remark-lint-frontmatter-schema';

export default {
  plugins: [
    remarkFrontmatter,
    [
      remarkLintFrontmatterSchema,
      {
        schemas: {
          './schemas/condition.schema.json': ['./content/conditions/*.md'],
          './schemas/study.schema.json': ['./content/studies/*.md'],
          './schemas/claim.schema.json': ['./content/claims/*.md'],
          './schemas/page.schema.json': ['./content/pages/*.md'],
        },
      },
    ],
  ],
};
