#include "core/watch/watch_index.hpp"

#include <cassert>
#include <utility>

namespace kv {

void watch_index::insert(entry& e) {
  ++size_;
  if (e.end.empty()) {
    insert_key(e);
    return;
  }
  e.left = e.right = nullptr;
  root_ = insert(root_, &e);
}

void watch_index::erase(entry& e) {
  assert(size_ > 0);
  --size_;
  if (e.end.empty()) {
    erase_key(e);
    return;
  }
  root_ = erase(root_, &e);
  e.left = e.right = nullptr;
}

void watch_index::insert_key(entry& e) {
  e.prev = e.next = nullptr;
  auto [it, first] = keys_.try_emplace(e.key, &e);
  if (first) return;
  entry* head = it->second;  // e goes second: the head, and so the map's key, stays
  e.prev = head;
  e.next = head->next;
  if (head->next != nullptr) head->next->prev = &e;
  head->next = &e;
}

void watch_index::erase_key(entry& e) {
  if (e.next != nullptr) e.next->prev = e.prev;
  if (e.prev != nullptr) {
    e.prev->next = e.next;
  } else {
    // The head: the map's key views e's key, which goes with it, so the next one re-keys it.
    keys_.erase(e.key);
    if (e.next != nullptr) keys_.emplace(e.next->key, e.next);
  }
  e.prev = e.next = nullptr;
}

std::uint64_t watch_index::priority(const entry& e) noexcept {
  // splitmix64's finalizer: a bijection, so no two ids tie, and consecutive ids look random.
  std::uint64_t z = e.id + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

bool watch_index::before(const entry& a, const entry& b) noexcept {
  if (a.key != b.key) return a.key < b.key;
  return a.id < b.id;
}

bool watch_index::ends_later(std::string_view a, std::string_view b) noexcept {
  if (unbounded(b)) return false;
  return unbounded(a) || b < a;
}

void watch_index::update(entry* n) noexcept {
  n->max_end = n->end;
  for (const entry* child : {n->left, n->right}) {
    if (child != nullptr && ends_later(child->max_end, n->max_end)) n->max_end = child->max_end;
  }
}

watch_index::entry* watch_index::insert(entry* tree, entry* e) {
  if (tree == nullptr) {
    update(e);
    return e;
  }
  if (priority(*e) > priority(*tree)) {
    auto [l, r] = split(tree, *e);
    e->left = l;
    e->right = r;
    update(e);
    return e;
  }
  if (before(*e, *tree)) {
    tree->left = insert(tree->left, e);
  } else {
    tree->right = insert(tree->right, e);
  }
  update(tree);
  return tree;
}

watch_index::entry* watch_index::erase(entry* tree, const entry* e) {
  assert(tree != nullptr);  // e is in the tree
  if (tree == e) return merge(tree->left, tree->right);
  if (before(*e, *tree)) {
    tree->left = erase(tree->left, e);
  } else {
    tree->right = erase(tree->right, e);
  }
  update(tree);
  return tree;
}

std::pair<watch_index::entry*, watch_index::entry*> watch_index::split(entry* tree, const entry& e) {
  if (tree == nullptr) return {nullptr, nullptr};
  if (before(*tree, e)) {
    auto [l, r] = split(tree->right, e);
    tree->right = l;
    update(tree);
    return {tree, r};
  }
  auto [l, r] = split(tree->left, e);
  tree->left = r;
  update(tree);
  return {l, tree};
}

watch_index::entry* watch_index::merge(entry* a, entry* b) {
  if (a == nullptr) return b;
  if (b == nullptr) return a;
  if (priority(*a) > priority(*b)) {
    a->right = merge(a->right, b);
    update(a);
    return a;
  }
  b->left = merge(a, b->left);
  update(b);
  return b;
}

}  // namespace kv
